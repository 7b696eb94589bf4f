// Process-wide options: how QEMU starts, what it is called, how it is confined and how the
// launcher reaches it. Devices come from the other builders.
import type { LauncherVm } from '../../api/resolve.js';
import { qemuOpts } from './qemu-opts.js';
import type { Fragment } from './fragment.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * seccomp filter: no obsolete syscalls, no setuid/setgid, no fork/exec, no scheduler or
 * affinity changes. The launcher pod is already unprivileged; this confines QEMU further
 * against a guest escaping into the device model.
 */
export const SANDBOX = qemuOpts('on', {
  obsolete: 'deny',
  elevateprivileges: 'deny',
  spawn: 'deny',
  resourcecontrol: 'deny',
});

/** QMP monitor on a unix socket; `wait=off` so QEMU starts without waiting for the launcher. */
export function qmpArgs(socket: string): string[] {
  return [
    '-chardev',
    qemuOpts('socket', { id: 'qmp', path: socket, server: true, wait: false }),
    '-mon',
    qemuOpts('', { chardev: 'qmp', mode: 'control' }),
  ];
}

/** Identity, confinement and control: everything that is not a device. */
export function baseFragment(vm: Pick<LauncherVm, 'name' | 'namespace' | 'uid'>, qmpSocket: string): Fragment {
  return {
    args: [
      // Start with vCPUs stopped: the launcher checks the VM over QMP first, then sends `cont`.
      '-S',
      // No host config files and no implicit devices: the argv describes the whole machine.
      '-no-user-config',
      '-nodefaults',
      '-display',
      'none',
      // debug-threads names vCPU and I/O threads, which shows up in `top -H` and core dumps.
      '-name',
      qemuOpts('', { guest: `${vm.namespace}_${vm.name}`, 'debug-threads': true }),
      // The Kubernetes uid becomes the SMBIOS system UUID, stable across restarts.
      ...(vm.uid && UUID.test(vm.uid) ? ['-uuid', vm.uid.toLowerCase()] : []),
      '-msg',
      'timestamp=on',
      '-sandbox',
      SANDBOX,
      ...qmpArgs(qmpSocket),
    ],
  };
}
