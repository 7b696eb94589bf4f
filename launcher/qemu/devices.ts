// Small always-useful devices: entropy, memory balloon, panic notifier.
import type { LauncherVm } from '../../api/resolve.js';
import { rootPortId } from './pcie.js';
import { device, qemuOpts } from './qemu-opts.js';
import { mergeFragments } from './fragment.js';
import type { Fragment } from './fragment.js';

/** virtio-rng fed from the host's urandom: guests otherwise stall at boot waiting for entropy. */
export function rngFragment(): Fragment {
  const port = rootPortId('rng');
  return {
    args: [
      '-object',
      qemuOpts('rng-random', { id: 'rng0', filename: '/dev/urandom' }),
      ...device('virtio-rng-pci', { id: 'rng', bus: port, rng: 'rng0' }),
    ],
    ports: [port],
  };
}

/**
 * virtio-balloon with free page reporting: the guest hands freed pages back, so the pod's
 * RSS follows what the guest really uses instead of its high-water mark.
 */
export function balloonFragment(): Fragment {
  const port = rootPortId('balloon');
  return { args: device('virtio-balloon-pci', { id: 'balloon', bus: port, 'free-page-reporting': true }), ports: [port] };
}

/** ISA pvpanic: a guest kernel panic becomes a GUEST_PANICKED event instead of a silent hang. */
export function pvpanicFragment(): Fragment {
  return { args: device('pvpanic', { id: 'pvpanic' }) };
}

/** The optional devices the VM asks for, plus pvpanic, which is always there. */
export function devicesFragment(devices: LauncherVm['devices']): Fragment {
  const parts = [...(devices.rng ? [rngFragment()] : []), ...(devices.balloon ? [balloonFragment()] : []), pvpanicFragment()];
  return mergeFragments(parts);
}
