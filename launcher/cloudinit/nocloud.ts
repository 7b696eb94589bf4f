// NoCloud data source files (https://cloudinit.readthedocs.io, "NoCloud"): meta-data names the
// instance, user-data configures it, network-config (v2) optionally replaces DHCP.
import { stringify } from 'yaml';
import type { LauncherVm, ResolvedDisk } from '../../api/resolve.js';
import { CloudInitError } from './errors.js';

/** The files of a `cidata` volume, by file name. */
export interface NocloudFiles {
  'meta-data': string;
  'user-data': string;
  'network-config'?: string;
}

/** User and network data read from a Secret (userDataSecretRef). */
export interface CloudInitSecretData {
  userData?: string;
  networkData?: string;
}

/**
 * The instance id: cloud-init runs its once-per-instance modules again when it changes. The
 * uid changes only when the VM object is recreated, which is exactly a new instance.
 */
export function instanceId(vm: Pick<LauncherVm, 'name' | 'namespace' | 'uid'>): string {
  return vm.uid ?? `${vm.namespace}-${vm.name}`;
}

/**
 * The NoCloud files for a cloudInit disk. Data from a Secret wins over inline data (the API
 * allows only one of userData and userDataSecretRef; networkData may come from either).
 */
export function nocloudFiles(
  vm: Pick<LauncherVm, 'name' | 'namespace' | 'uid'>,
  disk: Pick<ResolvedDisk, 'name' | 'spec'>,
  secret?: CloudInitSecretData,
): NocloudFiles {
  const source = disk.spec.cloudInit;
  if (!source) throw new CloudInitError('NotCloudInit', `disk ${disk.name} is not a cloudInit disk`);
  const networkData = secret?.networkData ?? source.networkData;
  return {
    'meta-data': stringify({ 'instance-id': instanceId(vm), 'local-hostname': vm.name }),
    'user-data': secret?.userData ?? source.userData ?? '',
    ...(networkData ? { 'network-config': networkData } : {}),
  };
}
