import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImportError } from './errors.js';
import { readImportTask } from './index.js';
import { readSourceTask } from './serve-source.js';
import { portFlag } from './task-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'task-file-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('the task files of launcher import and launcher serve-source', () => {
  it('reads a task as the operator writes it', async () => {
    const task = { source: { kind: 'http', url: 'http://files/disk.qcow2' }, target: { mode: 'Filesystem', capacityBytes: 1024 } };
    expect(await readImportTask(await file('import.json', JSON.stringify(task)))).toEqual(task);
  });

  it('names the file when it is missing or not JSON, with each command’s own error type', async () => {
    const missing = readImportTask(join(dir, 'none.json'));
    await expect(missing).rejects.toBeInstanceOf(ImportError);
    await expect(missing).rejects.toMatchObject({ reason: 'ImportFailed', message: expect.stringMatching(/^cannot read the import task .*none\.json: ENOENT/) });
    await expect(readSourceTask(await file('bad.json', '{'))).rejects.toThrow(/^cannot read the source task .*bad\.json: /);
  });

  it('names the annotation and the field a task off the contract gets wrong', async () => {
    const path = await file('off.json', JSON.stringify({ source: { kind: 'http', url: 'file:///etc/shadow' }, target: { mode: 'Filesystem', capacityBytes: 1024 } }));
    await expect(readImportTask(path)).rejects.toMatchObject({ message: expect.stringMatching(/is not an import task as the operator writes it \(kubevmm\.io\/import\): source\.url: /) });
    await expect(readSourceTask(path)).rejects.toThrow(/is not a source task as the operator writes it \(kubevmm\.io\/source\)/);
  });

  it('takes a port from 0 to 65535 and nothing else', () => {
    const fail = (message: string) => new RangeError(message);
    expect(portFlag('8443', fail)).toBe(8443);
    expect(portFlag('0', fail)).toBe(0);
    for (const bad of ['65536', '-1', '80.5', 'http', '']) expect(() => portFlag(bad, fail)).toThrow(RangeError);
    expect(() => portFlag('x', fail)).toThrow('--port x: not a port number');
  });
});
