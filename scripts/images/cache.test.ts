import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot, fileDigest, keyOf, prune, touch, withLock } from './cache.js';

describe('image cache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-cache-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('lives under KUBEVMM_CACHE when set, else ~/.cache/kubevmm', () => {
    expect(cacheRoot({ KUBEVMM_CACHE: '/c' })).toBe('/c/images');
    expect(cacheRoot({})).toMatch(/\/\.cache\/kubevmm\/images$/);
  });

  it('keys values regardless of object key order, and tells different values apart', () => {
    expect(keyOf({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(keyOf({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(keyOf({ a: 1 })).not.toBe(keyOf({ a: '1' }));
    expect(keyOf(['x'])).toMatch(/^[0-9a-f]{12}$/);
  });

  it('lets one holder at a time into the lock, also against another process', async () => {
    const lock = join(dir, '.lock');
    const events: string[] = [];
    const hold = (name: string) =>
      withLock(lock, async () => {
        events.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 150));
        events.push(`${name} out`);
      });
    await Promise.all([hold('a'), hold('b')]);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);

    // flock(1) from another process holds it and marks its end just before letting go: we get
    // in only after that mark.
    const mark = join(dir, 'outside-done');
    const outside = spawn('flock', [lock, 'sh', '-c', `echo held; sleep 0.3; touch ${mark}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => outside.stdout.once('data', r));
    await withLock(lock, async () => {
      await expect(access(mark)).resolves.toBeUndefined();
    });
  });

  it('releases the lock when the holder throws', async () => {
    const lock = join(dir, '.lock');
    await expect(withLock(lock, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(withLock(lock, async () => 'again')).resolves.toBe('again');
  });

  it('memoises file digests by inode, size and mtime', async () => {
    const file = join(dir, 'f');
    await writeFile(file, 'one');
    const memo = join(dir, 'memo');
    const first = await fileDigest(file, memo);
    expect(first).toBe('7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed');
    await writeFile(file, 'two');
    await utimes(file, new Date(0), new Date(5000));
    expect(await fileDigest(file, memo)).not.toBe(first);
  });

  it('keeps the three most recently built or used builds of each image, their layers and recent memos; removes leftovers of killed builds', async () => {
    const build = async (name: string, tag: string, age: number, layers: string[]) => {
      const d = join(dir, name, tag);
      await mkdir(d, { recursive: true });
      await writeFile(join(d, 'image.json'), JSON.stringify({ layerKeys: layers }));
      await utimes(d, new Date(), new Date(Date.now() - age * 1000));
    };
    for (const [tag, age, layer] of [['t1', 40, 'l1'], ['t2', 30, 'l2'], ['t3', 20, 'l3'], ['t4', 10, 'l4']] as const) await build('img', tag, age, [layer, 'shared']);
    await build('other', 'o1', 50, ['l1']);
    for (const l of ['l1', 'l2', 'l3', 'l4', 'shared', 'orphan']) await mkdir(join(dir, 'layers', l), { recursive: true });
    await mkdir(join(dir, 'memo'));
    await writeFile(join(dir, 'memo', 'fresh'), 'x');
    await writeFile(join(dir, 'memo', 'stale'), 'x');
    await utimes(join(dir, 'memo', 'stale'), new Date(), new Date(Date.now() - 31 * 86_400_000));
    await touch(join(dir, 'img', 't1')); // a cache hit: used just now
    await mkdir(join(dir, 'img', '.t5.abc'));
    await mkdir(join(dir, 'layers', '.l5.123'));
    await prune(dir);
    expect(await readdir(join(dir, 'memo'))).toEqual(['fresh']);
    expect((await readdir(join(dir, 'img'))).sort()).toEqual(['t1', 't3', 't4']);
    expect((await readdir(join(dir, 'layers'))).sort()).toEqual(['l1', 'l3', 'l4', 'shared']);
    expect(await readdir(join(dir, 'other'))).toEqual(['o1']);
  });
});
