import { API_DOC, apiDocCurrent } from './generate.js';
import { anchorOf, markers, MissingMarkerError, referenceParts, renderReference } from './reference.js';

describe('docs/api.md field reference', () => {
  it('is what the schemas give now (run `npm run crds` after changing api/schema)', () => {
    expect(apiDocCurrent(API_DOC)).toBe(true);
  });

  it('lists every field of the VirtualMachine, with nested sources flattened and list items in their own section', () => {
    const vm = referenceParts()['virtualmachine-fields'] ?? '';
    for (const row of ['`persistentVolumeClaim.claimName` | string, at most 253 characters, required', '`ports[].port` | integer, 1–65535, required', '`guest` | quantity']) expect(vm).toContain(row);
    for (const heading of ['### spec', '#### spec.disks[]', '#### spec.interfaces[]', '### status', '#### status.conditions[]']) expect(`\n${vm}`).toContain(`\n${heading}\n`);
    expect(vm).toContain('| `disks` | list of [objects](#specdisks), at most 64 |');
    // `<vm>-launcher` must show as text, not vanish as an HTML tag.
    expect(vm).toContain('&lt;vm&gt;-launcher');
  });

  it('gives the operator settings with their flags, variables and defaults', () => {
    expect(referenceParts()['operator-config']).toContain('| `cpuAllocationRatio` | `--cpu-allocation-ratio`, `KUBEVMM_CPU_ALLOCATION_RATIO` | integer, 1–100 | `10` |');
  });

  it('replaces only what lies between the markers, and names a missing pair', () => {
    const { begin, end } = markers('x');
    expect(renderReference(`intro\n${begin}\nold\n${end}\noutro`, { x: 'new' })).toBe(`intro\n${begin}\n\nnew\n\n${end}\noutro`);
    expect(() => renderReference('no markers', { x: 'new' })).toThrow(MissingMarkerError);
  });

  it('makes GitHub’s anchors', () => {
    expect(anchorOf('spec.disks[]')).toBe('specdisks');
    expect(anchorOf('VirtualMachineClass spec')).toBe('virtualmachineclass-spec');
  });
});
