// Helpers for the planner's tests (unit and system): VMs built through the real resolver, so
// tests see exactly the defaults the launcher will see.
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import { launcherVm } from '../../api/resolve.js';
import type { LauncherVm } from '../../api/resolve.js';
import type { VirtualMachine } from '../../api/schema/vm.js';

/** Identity and operator settings of a {@link testVm}. */
export interface TestVmOptions {
  name?: string;
  namespace?: string;
  uid?: string;
  hotplugPorts?: number;
}

/** A LauncherVm from a partial spec; guest memory defaults to 128Mi. */
export function testVm(spec: VirtualMachine['spec'] = {}, options: TestVmOptions = {}): LauncherVm {
  const vm: VirtualMachine = {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: {
      name: options.name ?? 'web-1',
      namespace: options.namespace ?? 'team-a',
      ...(options.uid ? { uid: options.uid } : {}),
    },
    spec: { memory: { guest: '128Mi' }, ...spec },
  } as VirtualMachine;
  return launcherVm(vm, undefined, { ...DEFAULT_CONFIG, hotplugPorts: options.hotplugPorts ?? 0 });
}

/** The values given to every occurrence of `flag` in argv, e.g. all `-device` strings. */
export function flagValues(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((arg, i) => (arg === flag && argv[i + 1] !== undefined ? [argv[i + 1] as string] : []));
}

/** Parses `head,key=value,...` (with doubled commas) back into its parts, for assertions. */
export function parseOpts(option: string): { head: string; props: Record<string, string> } {
  const parts = option.split(/(?<!,),(?!,)/).map((p) => p.replaceAll(',,', ','));
  const [first = '', ...rest] = parts;
  const props: Record<string, string> = {};
  const headIsProp = first.includes('=');
  for (const part of headIsProp ? parts : rest) {
    const eq = part.indexOf('=');
    props[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { head: headIsProp ? '' : first, props };
}

/** The `-device` of the given id, parsed; undefined when there is none. */
export function deviceById(argv: readonly string[], id: string): { head: string; props: Record<string, string> } | undefined {
  return flagValues(argv, '-device').map(parseOpts).find((d) => d.props.id === id);
}
