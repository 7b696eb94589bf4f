/**
 * Writes the API server refused: by validation, an admission webhook, Pod Security, a
 * LimitRange or a ResourceQuota. None is hidden: the VM's status gets a Failure condition
 * with the server's reason and message, an Event says the same, and the write is retried
 * with backoff (the work queue's, or the quota poll). Pure apart from the error classes.
 */
import type { VmStatus } from '../../api/schema/vm.js';
import { setCondition } from '../reconcile/conditions.js';
import type { VmEvent } from '../reconcile/types.js';
import { apiBody, apiMessage, statusCode } from './client.js';

/** The objects the operator writes for a VM, as condition reasons name them. */
export type WrittenKind = 'LauncherPod' | 'CredentialsSecret' | 'AttachmentPod' | 'HotplugService' | 'DiskClaim' | 'CopyPod' | 'ImageClaim' | 'ImporterPod' | 'ImporterSecret' | 'SourcePod' | 'SourceSecret';

/** A write that failed, tagged with the object it was for (so the message can name it). */
export class WriteError extends Error {
  override readonly name = 'WriteError';
  constructor(
    readonly kind: WrittenKind,
    readonly object: string,
    override readonly cause: unknown,
    /** The hotplugged disk an attachment pod or Service was written for. */
    readonly disk?: string,
  ) {
    super(`${kind} ${object}: ${apiMessage(cause)}`, { cause });
  }
}

/** What one write is for. */
export interface WriteTarget {
  kind: WrittenKind;
  object: string;
  disk?: string;
}

/** Runs one write, tagging its failure with what was written. */
export async function writing<T>(target: WriteTarget, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    throw new WriteError(target.kind, target.object, err, target.disk);
  }
}

/** A refused write, as status and Events report it. */
export interface Refusal {
  kind: WrittenKind;
  object: string;
  disk?: string;
  /** The API server's reason (Forbidden, Invalid, BadRequest) and message. */
  serverReason: string;
  message: string;
  quota: boolean;
}

const REFUSED_CODES = new Set([400, 403, 422]);

function serverReason(err: unknown): string {
  const reason = apiBody(err)?.reason;
  return typeof reason === 'string' && reason ? reason : `HTTP${statusCode(err)}`;
}

/**
 * The refusal in `err`, or undefined for failures that are not a verdict on the object
 * (network, timeouts, conflicts, throttling, server errors): those are retried as they are.
 */
export function refusalOf(err: unknown): Refusal | undefined {
  if (!(err instanceof WriteError)) return undefined;
  const code = statusCode(err.cause);
  if (!REFUSED_CODES.has(code)) return undefined;
  const message = apiMessage(err.cause);
  return { kind: err.kind, object: err.object, ...(err.disk ? { disk: err.disk } : {}), serverReason: serverReason(err.cause), message, quota: code === 403 && /exceeded quota/i.test(message) };
}

/** True when the VM's namespace is being deleted: nothing new can be created in it. */
export function isNamespaceTerminating(err: unknown): boolean {
  const cause = err instanceof WriteError ? err.cause : err;
  return statusCode(cause) === 403 && /being terminated/i.test(apiMessage(cause));
}

/** "the API server refused LauncherPod team-a/web-launcher (Forbidden): ..." */
export function refusalText(r: Refusal): string {
  return `the API server refused ${r.kind} ${r.object} (${r.serverReason}): ${r.message}`;
}

/** The status after a refusal: a Failure condition naming it; a launcher that could not start is not Starting. */
export function refusedStatus(status: VmStatus, r: Refusal, now: Date): VmStatus {
  const reason = r.quota ? 'QuotaExceeded' : `${r.kind}Refused`;
  const conditions = setCondition(status.conditions, { type: 'Failure', status: 'True', reason, message: r.quota ? r.message : refusalText(r) }, { now });
  if (r.kind !== 'LauncherPod' && r.kind !== 'CredentialsSecret') return { ...status, conditions, ...hotplugRefused(status, r) };
  const { startedAt: _startedAt, ...rest } = status;
  const ready = setCondition(conditions, { type: 'Ready', status: 'False', reason, message: 'the launcher pod could not be created' }, { now });
  return { ...rest, printableStatus: r.quota ? 'ErrorQuotaExceeded' : 'ErrorRefused', conditions: ready };
}

/** An attachment refused: the disk waiting for it is Failed with the server's word. */
function hotplugRefused(status: VmStatus, r: Refusal): Pick<VmStatus, 'disks'> {
  if (!status.disks || !r.disk) return {};
  return { disks: status.disks.map((d) => (d.name === r.disk ? { ...d, phase: 'Failed' as const, message: refusalText(r) } : d)) };
}

/** The Event for a refusal, unless the VM's status already said exactly this. */
export function refusalEvents(before: VmStatus | undefined, after: VmStatus): VmEvent[] {
  const failure = after.conditions?.find((c) => c.type === 'Failure' && c.status === 'True');
  if (!failure) return [];
  const old = before?.conditions?.find((c) => c.type === 'Failure');
  if (old?.status === 'True' && old.reason === failure.reason && old.message === failure.message) return [];
  return [{ type: 'Warning', reason: failure.reason === 'QuotaExceeded' ? 'ErrorQuotaExceeded' : failure.reason, message: failure.message }];
}

/** Thrown after a refusal was reported, so the work queue retries the VM with backoff. */
export class WriteRefusedError extends Error {
  override readonly name = 'WriteRefusedError';
  readonly reason: string;
  constructor(r: Refusal) {
    super(refusalText(r));
    this.reason = `${r.kind}Refused`;
  }
}
