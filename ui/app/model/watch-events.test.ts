import { applyWatchEvent, FrameBatcher, LineSplitter, type KubeObject } from './watch-events.js';

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, resourceVersion: rv } });

describe('applying watch events', () => {
  it('adds, modifies and deletes by name and moves the resourceVersion', () => {
    const items = new Map<string, KubeObject>();
    expect(applyWatchEvent(items, { type: 'ADDED', object: obj('a', '5') }, '4')).toEqual({ kind: 'continue', resourceVersion: '5' });
    applyWatchEvent(items, { type: 'MODIFIED', object: obj('a', '6') }, '5');
    expect(items.get('a')?.metadata.resourceVersion).toBe('6');
    applyWatchEvent(items, { type: 'DELETED', object: obj('a', '7') }, '6');
    expect(items.size).toBe(0);
  });
  it('a bookmark moves the version and changes nothing', () => {
    const items = new Map([['a', obj('a', '1')]]);
    expect(applyWatchEvent(items, { type: 'BOOKMARK', object: obj('', '99') }, '1')).toEqual({ kind: 'continue', resourceVersion: '99' });
    expect([...items.keys()]).toEqual(['a']);
  });
  it('asks for a new list on 410 Gone (and on any watch error)', () => {
    expect(applyWatchEvent(new Map(), { type: 'ERROR', object: { code: 410, reason: 'Expired', message: 'too old resource version' } }, '1')).toEqual({ kind: 'relist', reason: 'resourceVersion too old (410 Gone)' });
    expect(applyWatchEvent(new Map(), { type: 'ERROR', object: { code: 500, message: 'boom' } }, '1')).toEqual({ kind: 'relist', reason: 'boom' });
  });
});

describe('the stream of lines', () => {
  it('joins lines cut across chunks and skips blank ones', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n\n')).toEqual(['{"b":2}']);
  });
});

describe('one render per frame', () => {
  it('coalesces many requests before the frame into one flush, and flushes again after', () => {
    const frames: (() => void)[] = [];
    let flushes = 0;
    const b = new FrameBatcher(() => flushes++, (run) => frames.push(run));
    for (let i = 0; i < 500; i++) b.request();
    expect(frames).toHaveLength(1);
    frames.shift()!();
    expect(flushes).toBe(1);
    b.request();
    expect(frames).toHaveLength(1);
  });
});
