/** metav1.Condition bookkeeping: a transition time changes only when the status does. Pure. */
import type { VmStatus } from '../../api/schema/vm.js';

type Condition = NonNullable<VmStatus['conditions']>[number];

/** The input of setCondition: a condition without its transition time. */
export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** Returns `conditions` with `next` set, keeping lastTransitionTime when the status is unchanged. */
export function setCondition(conditions: readonly Condition[] | undefined, next: ConditionInput, opts: { now: Date; generation?: number }): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : opts.now.toISOString();
  const condition: Condition = { ...next, lastTransitionTime, ...(opts.generation !== undefined ? { observedGeneration: opts.generation } : {}) };
  if (i >= 0) list[i] = condition;
  else list.push(condition);
  return list;
}

/** The condition of `type`, if present. */
export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
