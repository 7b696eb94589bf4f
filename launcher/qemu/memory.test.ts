import { guestMemoryMiB, memoryFragment } from './memory.js';

const MiB = 2 ** 20;

describe('guestMemoryMiB', () => {
  it.each([
    ['whole MiB', 128 * MiB, '', 128],
    ['rounded up to a MiB', 128 * MiB + 1, '', 129],
    ['2Mi pages: rounded up to 2 MiB', 129 * MiB, '2Mi', 130],
    ['1Gi pages: rounded up to 1 GiB', 1536 * MiB, '1Gi', 2048],
  ] as const)('%s', (_name, guestBytes, hugepages, expected) => {
    expect(guestMemoryMiB({ guestBytes, hugepages })).toBe(expected);
  });
});

describe('memoryFragment', () => {
  it('plain memory is just -m', () => {
    expect(memoryFragment({ guestBytes: 2048 * MiB, hugepages: '' })).toEqual({ args: ['-m', '2048M'] });
  });

  it('hugepages add a preallocated private hugetlbfs backend of the same size', () => {
    expect(memoryFragment({ guestBytes: 2048 * MiB, hugepages: '2Mi' })).toEqual({
      args: [
        '-m',
        '2048M',
        '-object',
        'memory-backend-file,id=mem0,size=2048M,mem-path=/dev/hugepages,prealloc=on,share=off',
      ],
      backend: 'mem0',
    });
  });
});
