/**
 * Rules on the fields copied into the launcher pod's scheduling: nodeSelector keys (a CRD
 * schema cannot constrain map keys) and the toleration rules the API server applies to a pod.
 * Shared by VMs and classes.
 */
import { qualifiedName } from '../schema/kube.js';
import type { ClassSpec } from '../schema/class.js';
import { vmAffinity } from './affinity.js';
import type { Finding, Rule } from './context.js';

type Toleration = NonNullable<ClassSpec['tolerations']>[number];

const NAME_PART_TOO_LONG = 'its name part (after "/") must be at most 63 characters';

/** Whether a qualified name's part after "/" is past the 63 characters a label key allows. */
const nameTooLong = (key: string) => (key.split('/').pop() ?? '').length > 63;

/** Keys of a nodeSelector that are not label keys. */
export function nodeSelectorKeys(selector: Readonly<Record<string, string>> | undefined, path: string): Finding[] {
  return Object.keys(selector ?? {}).flatMap((key) => {
    const result = qualifiedName.safeParse(key);
    if (result.success && !nameTooLong(key)) return [];
    const why = result.success ? NAME_PART_TOO_LONG : (result.error.issues[0]?.message ?? 'is not a label key');
    return [{ path: `${path}[${JSON.stringify(key)}]`, message: `key ${JSON.stringify(key)}: ${why}` }];
  });
}

/** The API server's cross-field rules on one toleration (the CRD has them as CEL too). */
function tolerationRules(t: Toleration, path: string): Finding[] {
  const out: Finding[] = [];
  if (t.operator === 'Exists' && t.value) out.push({ path: `${path}.value`, message: 'must be empty when operator is Exists' });
  if (!t.key && t.operator !== 'Exists') out.push({ path: `${path}.operator`, message: 'must be Exists when key is empty (a toleration of every taint)' });
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') out.push({ path: `${path}.tolerationSeconds`, message: 'needs effect NoExecute (it bounds how long a NoExecute taint is tolerated)' });
  if (t.key && nameTooLong(t.key)) out.push({ path: `${path}.key`, message: NAME_PART_TOO_LONG });
  return out;
}

/** Findings for a list of tolerations at `path`. */
export function tolerationFindings(tolerations: readonly Toleration[] | undefined, path: string): Finding[] {
  return (tolerations ?? []).flatMap((t, i) => tolerationRules(t, `${path}[${i}]`));
}

export const vmScheduling: Rule = ({ spec }) => [
  ...nodeSelectorKeys(spec.nodeSelector, 'spec.nodeSelector'),
  ...tolerationFindings(spec.tolerations, 'spec.tolerations'),
];

/** Every scheduling rule of a VM. */
export const schedulingRules: Rule[] = [vmScheduling, vmAffinity];
