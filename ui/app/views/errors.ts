/** Errors as the user reads them: the API's own message when there is one. */
import { ApiError } from '../model/status.js';

/** The text of any error: an ApiError's Status message (with its code), else the message. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code}${err.reason ? ` ${err.reason}` : ''})`;
  return err instanceof Error ? err.message : String(err);
}
