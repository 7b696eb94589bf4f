// VMs the console tests create through the API (the operator does not run: statuses are
// written by the test, as the operator would write them).
import { API_VERSION } from '../../../api/schema/common.js';

/** A containerDisk VM named `name` in `namespace`. */
export function testVm(namespace: string, name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualMachine',
    metadata: { name, namespace },
    spec: { runStrategy: 'Always', cpu: { cores: 2 }, memory: { guest: '1Gi' }, disks: [{ name: 'root', containerDisk: { image: 'registry.example/os/debian:12' } }], ...spec },
  };
}

/** A Running status on node `node` with an IP and the guest agent's view. */
export function runningStatus(node: string, ip: string): Record<string, unknown> {
  return { printableStatus: 'Running', nodeName: node, cpus: 2, memory: '1Gi', interfaces: [{ name: 'default', ipAddress: ip }], guest: { agentConnected: true, osName: 'Debian GNU/Linux', hostname: 'guest' } };
}
