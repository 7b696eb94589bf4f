/**
 * A refused API call as the user should read it: the Status message the API server (or the
 * subresource server) answered, and the fields its causes name, so a form shows each message
 * on the field it is about.
 */
import { kubeStatus } from '../../../api/contract/subresource.js';

/** An API call answered with an error status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly code: number,
    readonly reason: string | undefined,
    /** Messages by field path, such as `spec.memory.guest`. */
    readonly fields: ReadonlyMap<string, string>,
  ) {
    super(message);
  }
}

/** Reads a response body (JSON Status or anything) into an ApiError. */
export function apiErrorOf(code: number, statusText: string, body: string): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const status = kubeStatus.safeParse(parsed);
  const fields = new Map<string, string>();
  const causes = (parsed as { details?: { causes?: { field?: string; message?: string }[] } } | undefined)?.details?.causes ?? [];
  for (const cause of causes) {
    if (!cause.field) continue;
    const field = cause.field.replace(/\[(\d+)\]/g, '.$1');
    fields.set(field, [fields.get(field), cause.message].filter(Boolean).join('; '));
  }
  const message = status.success && status.data.message ? status.data.message : body.trim().slice(0, 500) || `${code} ${statusText}`;
  return new ApiError(message, code, status.success ? status.data.reason : undefined, fields);
}

/** The message of `field` or of the nearest field under it (`spec.disks.0` holds `spec.disks.0.name`). */
export function messageFor(fields: ReadonlyMap<string, string>, ...paths: string[]): string | undefined {
  for (const path of paths) {
    for (const [field, message] of fields) if (field === path || field.startsWith(`${path}.`)) return message;
  }
  return undefined;
}
