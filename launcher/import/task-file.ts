// What the importer's and the source pod's commands share: a task the operator wrote (an
// annotation through the downward API) read as JSON and held to its zod contract, and the
// --port flag. Each command throws its own error type, made by the `fail` it passes.

import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { describeIssues } from '../../api/contract/control.js';

/** Makes the calling command's error from a message (and its cause). */
export type Fail = (message: string, cause?: unknown) => Error;

/** The task file at `path`, held to `schema`; `fail`s naming the file, the annotation and what is wrong. */
export async function readTaskFile<T>(path: string, schema: z.ZodType<T>, task: { name: string; annotation: string }, fail: Fail): Promise<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw fail(`cannot read the ${task.name} ${path}: ${(err as Error).message}`, err);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw fail(`${path} is not ${/^[aeiou]/.test(task.name) ? 'an' : 'a'} ${task.name} as the operator writes it (${task.annotation}): ${describeIssues(parsed.error, 'task')}`);
  return parsed.data;
}

/** The --port flag as a number from 0 to 65535; `fail`s otherwise. */
export function portFlag(value: string, fail: Fail): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) throw fail(`--port ${value}: not a port number`);
  return port;
}
