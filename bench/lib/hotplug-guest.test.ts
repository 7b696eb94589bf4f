import { mkdtemp, appendFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskbenchSwitch, iops, mibps, parseFailures, parseResults, SerialCursor, standardJobs } from './hotplug-guest.js';

describe('diskbenchSwitch', () => {
  it('writes the user-data line the guest reads: prefix, then mode:bytes:seconds jobs', () => {
    expect(diskbenchSwitch('bench', standardJobs(5))).toBe('#kubevmm: diskbench=bench,randread:4096:5s,randwrite:4096:5s,read:1048576:5s,write:1048576:5s');
    expect(diskbenchSwitch('probe')).toBe('#kubevmm: diskbench=probe');
  });

  it('refuses a prefix the guest would write its data marker into, or that breaks the switch', () => {
    expect(() => diskbenchSwitch('data-x')).toThrow(/not starting with "data"/);
    expect(() => diskbenchSwitch('a,b')).toThrow(/letters, digits/);
  });
});

describe('parseResults', () => {
  const text = [
    'KUBEVMM-GUEST diskbench-found dev=vdb serial=bench-file size=268435456\r',
    'KUBEVMM-GUEST disk-added dev=vdb serial=bench-file size=524288\r',
    'KUBEVMM-GUEST diskbench dev=vdb mode=randread bs=4096 ops=2000 bytes=8192000 usec=4000000\r',
    'KUBEVMM-GUEST diskbench dev=vdb mode=write bs=1048576 ops=300 bytes=314572800 usec=3000000\r',
    'KUBEVMM-GUEST diskbench-failed dev=vdb mode=randwrite error=Input/output error\r',
  ].join('\n');

  it('reads every result line with its numbers, and IOPS and MiB/s from them', () => {
    const results = parseResults(text);
    expect(results).toEqual([
      { dev: 'vdb', mode: 'randread', bs: 4096, ops: 2000, bytes: 8192000, usec: 4000000 },
      { dev: 'vdb', mode: 'write', bs: 1048576, ops: 300, bytes: 314572800, usec: 3000000 },
    ]);
    expect(iops(results[0]!)).toBe(500);
    expect(mibps(results[1]!)).toBe(100);
  });

  it('reports failed jobs without the carriage return', () => {
    expect(parseFailures(text)).toEqual(['KUBEVMM-GUEST diskbench-failed dev=vdb mode=randwrite error=Input/output error']);
  });
});

describe('SerialCursor', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hotplug-guest-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('matches a line printed once per cycle once, and hands back what came before it', async () => {
    const log = join(dir, 'serial.log');
    await writeFile(log, 'boot\nKUBEVMM-GUEST diskbench-gone dev=vdb\n');
    const cursor = new SerialCursor(log);
    const first = await cursor.waitFor(/diskbench-gone dev=vdb\n/, 1000);
    expect(first.skipped).toBe('boot\nKUBEVMM-GUEST ');
    const second = cursor.waitFor(/diskbench-gone dev=vdb\n/, 5000);
    await appendFile(log, 'noise\nKUBEVMM-GUEST diskbench-gone dev=vdb\n');
    expect((await second).skipped).toBe('noise\nKUBEVMM-GUEST ');
    await expect(cursor.waitFor(/diskbench-gone/, 50)).rejects.toThrow(/not within 50 ms/);
  });
});
