/** Reads manifest files: multi-document YAML, each document tagged with where it came from. */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { MAX_NESTING_DEPTH } from '../api/depth.js';

/** One YAML document of an input file. */
export interface LoadedDocument {
  file: string;
  /** 1-based line where the document starts, for messages. */
  line: number;
  value: unknown;
}

/** A file that could not be read or parsed; the message names the file and line. */
export class ManifestLoadError extends Error {
  readonly reason = 'ManifestUnreadable';
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/** The YAML parser recurses per level: a hostile file exhausts the stack, which says nothing to a user. */
function tooDeep(message: string): boolean {
  return /maximum call stack/i.test(message);
}

const TOO_DEEP = `nested too deeply (no kubevmm manifest nests more than ${MAX_NESTING_DEPTH} levels)`;

/** Parses every non-empty document of `text`. */
export function parseManifests(text: string, file: string): LoadedDocument[] {
  const docs = guarded(file, () => parseAllDocuments(text, { prettyErrors: true }));
  const out: LoadedDocument[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const at = error.linePos?.[0];
      const message = tooDeep(error.message) ? TOO_DEEP : error.message.split('\n')[0];
      throw new ManifestLoadError(`${file}:${at ? `${at.line}:${at.col}` : '?'}: invalid YAML: ${message}`);
    }
    const value: unknown = guarded(file, () => doc.toJS());
    if (value === null || value === undefined) continue;
    out.push({ file, line: lineOf(text, doc.contents?.range[0] ?? doc.range[0]), value });
  }
  return out;
}

/** Runs a step of the YAML parser, turning a stack overflow into the nesting message. */
function guarded<T>(file: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof RangeError && tooDeep(err.message)) throw new ManifestLoadError(`${file}: invalid YAML: ${TOO_DEEP}`);
    throw err;
  }
}

/** Reads and parses every file, in order. */
export async function loadManifests(files: readonly string[]): Promise<LoadedDocument[]> {
  const all: LoadedDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ManifestLoadError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    all.push(...parseManifests(text, file));
  }
  return all;
}
