/**
 * Parsers of command-line values the servers share (the subresource server, the web console's
 * server): commander calls them, and an InvalidArgumentError becomes a usage error naming the
 * flag and what it takes.
 */
import { InvalidArgumentError } from 'commander';

/** A TCP port, 0 meaning any free one. */
export function portValue(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer 0-65535 (0: any free port)');
  return n;
}

/** A whole number of at least 1. */
export function countValue(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return n;
}

/** A positive number of seconds. */
export function secondsValue(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
}
