/** `kubevmm render FILE`: the launcher Pod(s) the operator would create, as YAML. */
import { stringify } from 'yaml';
import { formatIssue } from '../api/issues.js';
import type { OperatorConfig } from '../api/schema/config.js';
import type { VirtualMachineClass } from '../api/schema/class.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { validateDocuments } from '../api/validate.js';
import { renderLauncherPod } from '../operator/render/pod.js';
import type { LoadedDocument } from './load.js';

/** The rendered YAML, or the validation errors that stopped it. */
export type RenderReport = { ok: true; yaml: string } | { ok: false; errors: string[] };

/** Renders the launcher Pod of every VM in `docs`, using classes found beside them. */
export function renderReport(docs: readonly LoadedDocument[], config: OperatorConfig): RenderReport {
  const results = validateDocuments(docs.map((d) => d.value));
  const errors = results.flatMap((r) => r.issues.map(formatIssue));
  if (errors.length) return { ok: false, errors };
  const values = results.map((r) => r.value);
  const classes = new Map(
    values.filter((v): v is VirtualMachineClass => v?.kind === 'VirtualMachineClass').map((c) => [c.metadata.name, c]),
  );
  const vms = values.filter((v): v is VirtualMachine => v?.kind === 'VirtualMachine');
  if (vms.length === 0) return { ok: false, errors: ['no VirtualMachine in the input'] };
  const missing = vms.filter((vm) => vm.spec.className && !classes.has(vm.spec.className));
  if (missing.length) {
    return {
      ok: false,
      errors: missing.map((vm) => `VirtualMachine ${vm.metadata.name}: spec.className: class "${vm.spec.className}" is not in the input; add its manifest to the file`),
    };
  }
  const pods = vms.map((vm) => {
    const vmClass = vm.spec.className ? classes.get(vm.spec.className) : undefined;
    return renderLauncherPod({ vm, config, ...(vmClass ? { vmClass } : {}) });
  });
  return { ok: true, yaml: pods.map((p) => stringify(p, { lineWidth: 0 })).join('---\n') };
}
