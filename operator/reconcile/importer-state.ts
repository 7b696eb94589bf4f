/**
 * An importer pod (image import or VM disk copy) reduced to what decides the next step: how
 * it ended, by the contract (api/contract/importer.ts): exit 0 with an importerResult as its
 * termination message, or a failure as `Reason: message`. Pure.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { importerResult, type ImporterResult } from '../../api/contract/importer.js';
import { API_VERSION } from '../../api/schema/common.js';
import { GENERATION_ANNOTATION } from '../render/importer.js';
import { containerProblem, type ContainerProblem } from './pod-state.js';

/** An importer pod as planning sees it. */
export type ImporterState =
  | { phase: 'none' }
  | { phase: 'deleting' }
  | { phase: 'pending'; problem?: ContainerProblem; unschedulable?: string }
  | { phase: 'running'; ip?: string }
  | { phase: 'succeeded'; result: ImporterResult }
  | { phase: 'failed'; reason: string; message: string };

/** Messages land in status and Events: one line, bounded (the importer may quote a server). */
const MAX_MESSAGE = 512;

function oneLine(text: string): string {
  // Control characters (newlines, escapes) become spaces: status is printed on terminals.
  const flat = [...text].map((ch) => (ch < ' ' || ch === '\x7f' ? ' ' : ch)).join('').replace(/ {2,}/g, ' ').trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}…` : flat;
}

function termination(pod: V1Pod) {
  return pod.status?.containerStatuses?.find((c) => c.name === 'importer')?.state?.terminated;
}

/** A failed init container (a registry image's disk copy) before the importer ran. */
function failedInit(pod: V1Pod): { reason: string; message: string } | undefined {
  for (const s of pod.status?.initContainerStatuses ?? []) {
    const t = s.state?.terminated;
    if (t && t.exitCode !== 0) return { reason: 'RegistryCopyFailed', message: oneLine(`init container ${s.name} exited with code ${t.exitCode}${t.message ? `: ${t.message}` : ''}`) };
  }
  return undefined;
}

/** `Reason: message` as the importer writes it; anything else is ImportFailed with the text. */
function failure(pod: V1Pod): { reason: string; message: string } {
  const t = termination(pod);
  if (!t) return failedInit(pod) ?? { reason: pod.status?.reason ?? 'ImportFailed', message: oneLine(pod.status?.message ?? 'the importer pod failed before the importer ran') };
  const text = (t.message ?? '').trim();
  const match = /^([A-Z][A-Za-z]{1,63}): ([\s\S]*)$/.exec(text);
  if (match) return { reason: match[1] ?? 'ImportFailed', message: oneLine(match[2] ?? '') };
  const why = t.reason === 'OOMKilled' ? 'OOMKilled' : 'ImportFailed';
  return { reason: why, message: oneLine(text || `the importer exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}`) };
}

/**
 * Exit 0 counts only with a result in the contract's shape: anything else is not taken as a
 * finished import (never Ready without a verified write).
 */
function success(pod: V1Pod): ImporterState {
  const text = termination(pod)?.message ?? '';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = importerResult.safeParse(json);
  if (parsed.success) return { phase: 'succeeded', result: parsed.data };
  return { phase: 'failed', reason: 'ImportFailed', message: oneLine(`the importer exited 0 without a valid result (${text.slice(0, 100) || 'empty termination message'}); the image is not taken as imported`) };
}

/** Classifies an importer pod (undefined: none). */
export function importerState(pod: V1Pod | undefined): ImporterState {
  if (!pod) return { phase: 'none' };
  if (pod.metadata?.deletionTimestamp) return { phase: 'deleting' };
  const phase = pod.status?.phase;
  if (phase === 'Succeeded') return success(pod);
  if (phase === 'Failed') return { phase: 'failed', ...failure(pod) };
  if (phase === 'Running') return { phase: 'running', ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}) };
  return pendingState(pod);
}

function pendingState(pod: V1Pod): ImporterState {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const unschedulable = scheduled?.status === 'False' && scheduled.reason === 'Unschedulable' ? (scheduled.message ?? 'no node fits the importer pod') : undefined;
  const problem = failedInit(pod) ? undefined : containerProblem(pod);
  return { phase: 'pending', ...(problem ? { problem } : {}), ...(unschedulable ? { unschedulable } : {}) };
}

/** The owner generation a pod was made for (its annotation); undefined when absent or malformed. */
export function podGeneration(pod: V1Pod | undefined): number | undefined {
  const raw = pod?.metadata?.annotations?.[GENERATION_ANNOTATION];
  return raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}

/** Whether `pod` is controlled by the object of `kind` with `uid`. */
export function controlledBy(obj: { metadata?: { ownerReferences?: { controller?: boolean; kind: string; apiVersion: string; uid: string }[] } } | undefined, kind: string, uid: string | undefined): boolean {
  return !!uid && (obj?.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.kind === kind && r.apiVersion === API_VERSION && r.uid === uid);
}
