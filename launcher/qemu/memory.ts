// Guest RAM: anonymous memory, or a hugetlbfs-backed object when hugepages are requested.
import { LAYOUT } from '../../api/layout.js';
import type { LauncherVm } from '../../api/resolve.js';
import { qemuOpts } from './qemu-opts.js';
import type { Fragment } from './fragment.js';

const MiB = 2 ** 20;

/** Page size of each hugepages choice. */
export const HUGEPAGE_BYTES = { '2Mi': 2 * MiB, '1Gi': 1024 * MiB } as const;

/** Id of the RAM backend object, named by `-machine memory-backend=`. */
export const MEMORY_BACKEND_ID = 'mem0';

/** Guest RAM in MiB, rounded up to whole pages (hugetlbfs cannot map a partial page). */
export function guestMemoryMiB(memory: LauncherVm['memory']): number {
  const page = memory.hugepages ? HUGEPAGE_BYTES[memory.hugepages] : MiB;
  return (Math.ceil(memory.guestBytes / page) * page) / MiB;
}

/** `-m`, plus the memory backend when hugepages are used; `backend` goes to `-machine`. */
export function memoryFragment(memory: LauncherVm['memory']): Fragment & { backend?: string } {
  const size = `${guestMemoryMiB(memory)}M`;
  const args = ['-m', size];
  if (!memory.hugepages) return { args };
  const backend = qemuOpts('memory-backend-file', {
    id: MEMORY_BACKEND_ID,
    size,
    'mem-path': LAYOUT.hugepagesDir,
    // Fault every page in at start: a pod short of hugepages fails now, not mid-run with SIGBUS.
    prealloc: true,
    share: false,
  });
  return { args: [...args, '-object', backend], backend: MEMORY_BACKEND_ID };
}
