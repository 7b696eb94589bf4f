/**
 * The resources the plugin can advertise and the pure answers it gives about them: the device
 * list, Allocate's device specs and a preferred allocation. Every resource is one host device
 * node shared by any number of containers, advertised as N identical devices so N pods per node
 * can each ask for one.
 */
import type {
  AllocateRequest,
  AllocateResponse,
  Device,
  DeviceHealth,
  DeviceSpec,
  PreferredAllocationRequest,
  PreferredAllocationResponse,
} from './proto.js';

/** The extended-resource domain: `devices.kubevmm.io/kvm` and so on. */
export const RESOURCE_DOMAIN = 'devices.kubevmm.io';

/** Short resource names and the device node each one hands out (same path on host and in the container). */
export const KNOWN_RESOURCES = {
  kvm: '/dev/kvm',
  tun: '/dev/net/tun',
  'vhost-net': '/dev/vhost-net',
} as const;

/** A short resource name: kvm, tun or vhost-net. */
export type ResourceShortName = keyof typeof KNOWN_RESOURCES;

/** Everything the plugin needs to know about one advertised resource. */
export interface ResourceSpec {
  /** kvm */
  short: ResourceShortName;
  /** devices.kubevmm.io/kvm */
  resourceName: string;
  /** /dev/kvm: the node the kubelet creates in the container (same path on the host). */
  devicePath: string;
  /** Socket file name inside the device plugin directory: kubevmm-kvm.sock */
  endpoint: string;
}

/** True when `name` is a resource this plugin knows. */
export function isKnownResource(name: string): name is ResourceShortName {
  return Object.hasOwn(KNOWN_RESOURCES, name);
}

/** The full description of one known resource. */
export function resourceSpec(short: ResourceShortName): ResourceSpec {
  return {
    short,
    resourceName: `${RESOURCE_DOMAIN}/${short}`,
    devicePath: KNOWN_RESOURCES[short],
    endpoint: `kubevmm-${short}.sock`,
  };
}

/** The IDs of a resource's N identical devices: kvm-0 ... kvm-(N-1). */
export function deviceIds(short: ResourceShortName, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${short}-${i}`);
}

/** The list ListAndWatch sends: every device with the resource's one health. */
export function deviceList(ids: readonly string[], health: DeviceHealth): Device[] {
  return ids.map((ID) => ({ ID, health }));
}

/** The device node a container gets: the host's node at the same path, read-write. */
export function deviceSpecFor(resource: ResourceSpec): DeviceSpec {
  return { container_path: resource.devicePath, host_path: resource.devicePath, permissions: 'rw' };
}

/** Thrown when the kubelet asks for a device ID this plugin never advertised. */
export class UnknownDeviceError extends Error {
  constructor(readonly ids: readonly string[], resource: ResourceSpec) {
    super(`${resource.resourceName}: unknown device IDs ${ids.join(', ')}: this plugin advertises ${resource.short}-0, ${resource.short}-1, ...`);
    this.name = 'UnknownDeviceError';
  }
}

/**
 * Allocate's answer: one device spec per container, however many of the identical devices it
 * was given (one node serves them all). Throws UnknownDeviceError for IDs not in `known`.
 */
export function allocate(resource: ResourceSpec, known: ReadonlySet<string>, request: AllocateRequest): AllocateResponse {
  const unknown = request.container_requests.flatMap((c) => c.devices_ids.filter((id) => !known.has(id)));
  if (unknown.length > 0) throw new UnknownDeviceError(unknown, resource);
  return { container_responses: request.container_requests.map(() => ({ devices: [deviceSpecFor(resource)] })) };
}

/** The devices are identical: prefer the required ones, then the first available, up to the size asked. */
export function preferredAllocation(request: PreferredAllocationRequest): PreferredAllocationResponse {
  return {
    container_responses: request.container_requests.map((c) => {
      const chosen = [...new Set([...c.must_include_deviceIDs, ...c.available_deviceIDs])];
      return { deviceIDs: chosen.slice(0, Math.max(c.allocation_size, c.must_include_deviceIDs.length)) };
    }),
  };
}
