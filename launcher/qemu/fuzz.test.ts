// Property-based: every VM validateVm accepts plans a QEMU command line (or a typed planning
// error, never a crash), and no user value adds QEMU options of its own: each -cpu, -device
// and -netdev value parses back into the properties the builders set.
import fc from 'fast-check';
import { validVm } from '../../api/fuzz/arbitraries.js';
import { launcherVm } from '../../api/resolve.js';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import { validateVm } from '../../api/validate.js';
import { QemuPlanError } from './errors.js';
import { planQemu } from './plan.js';
import { flagValues, parseOpts } from '../../test/fakes/launcher-vm.js';

describe('fuzz: validate -> resolve -> planQemu', () => {
  it('plans every valid VM, with no user text able to smuggle in QEMU options', () => {
    let planned = 0;
    fc.assert(
      fc.property(validVm, fc.constantFrom('kvm', 'tcg'), (manifest, accel) => {
        const vm = launcherVm(validateVm(manifest).value!, undefined, DEFAULT_CONFIG);
        const disks = Object.fromEntries(vm.disks.filter((d) => !d.hotpluggable).map((d) => [d.name, { path: `/d/${d.name},x=y`, format: 'raw' as const, driver: 'file' as const }]));
        let argv: string[];
        try {
          argv = planQemu({ vm, accel, runtimeDir: '/run/kubevmm/runtime', disks, ...(vm.firmware === 'efi' ? { firmware: { code: '/ovmf/code.fd', vars: '/run/vars.fd' } } : {}) }).argv;
        } catch (err) {
          if (err instanceof QemuPlanError) return; // a typed refusal the launcher reports in status
          throw err;
        }
        planned++;
        expect(argv.every((a) => !/[\0\n]/.test(a))).toBe(true);
        const cpu = parseOpts(flagValues(argv, '-cpu')[0] ?? '');
        expect(cpu.props).toEqual({});
        for (const option of [...flagValues(argv, '-device'), ...flagValues(argv, '-netdev')]) {
          const { props } = parseOpts(option);
          // a property key is always a plain QEMU property name, never text from the spec
          for (const key of Object.keys(props)) expect(key).toMatch(/^[a-z][a-z0-9_.-]*$/);
        }
      }),
      { numRuns: 300 },
    );
    expect(planned).toBeGreaterThan(250); // the property is about argv, not about refusals
  });
});
