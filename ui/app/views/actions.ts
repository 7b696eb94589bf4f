/**
 * The VM's actions: every one a spec edit built by api/vm-edits.ts (what the CLI sends too),
 * disabled with the reason when the user may not patch (or delete) VMs, and a refused call
 * shows the API's message.
 */
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import { addVolumeEdit, pauseEdit, removeVolumeEdit, resizeEdit, restartEdit, startEdit, stopEdit, type Edit, type VmPatch } from '../../../api/vm-edits.js';
import type { Kube } from '../kube.js';
import type { Access } from '../model/access.js';
import { kubevmmPath, routeHash } from '../model/paths.js';
import { errorText } from './errors.js';

const PATCH_TYPES: Record<VmPatch['type'], string> = { merge: 'application/merge-patch+json', json: 'application/json-patch+json' };

/** Sends a verb's edit; resolves with what to tell the user. */
export async function sendEdit(kube: Kube, vm: VirtualMachine, edit: Edit): Promise<string> {
  if (!edit.patch) return 'nothing to change';
  await kube.call(kubevmmPath('virtualmachines', vm.metadata.namespace ?? '', vm.metadata.name), { method: 'PATCH', body: edit.patch.body, contentType: PATCH_TYPES[edit.patch.type] });
  return 'sent';
}

/** A button that is disabled, with the reason shown next to it, when access says so. */
export function ActionButton(props: { label: string; testid: string; access: Access | undefined; onClick: () => void; busy?: boolean; danger?: boolean }) {
  const denied = props.access && !props.access.allowed ? props.access.reason : undefined;
  const disabled = !props.access || Boolean(denied) || props.busy;
  // The reason is shown once under the toolbar (#actions-reason) and named by every button it disables.
  return html`<span class="action">
    <button type="button" class=${props.danger ? 'danger' : ''} data-testid=${props.testid} disabled=${disabled} aria-describedby=${denied ? 'actions-reason' : undefined} title=${denied ?? ''} onClick=${props.onClick}>${props.label}</button>
  </span>`;
}

/** The power actions, resize and delete of one VM. */
export function Actions(props: { kube: Kube; vm: VirtualMachine; patch: Access | undefined; del: Access | undefined }) {
  const { vm, kube } = props;
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>();
  const [busy, setBusy] = useState(false);
  const run = (what: string, build: () => Edit) => {
    setBusy(true);
    setMessage(undefined);
    Promise.resolve()
      .then(() => sendEdit(kube, vm, build()))
      .then((r) => setMessage({ text: `${what}: ${r}`, error: false }))
      .catch((err: unknown) => setMessage({ text: `${what} refused: ${errorText(err)}`, error: true }))
      .finally(() => setBusy(false));
  };
  const now = () => new Date();
  const halted = vm.spec.runStrategy === 'Halted';
  const denied = props.patch && !props.patch.allowed ? props.patch.reason : undefined;
  const delDenied = props.del && !props.del.allowed ? props.del.reason : undefined;
  return html`<div class="actions" role="toolbar" aria-label="VM actions" data-testid="actions">
    <${ActionButton} label="Start" testid="action-start" access=${props.patch} busy=${busy} onClick=${() => run('start', () => startEdit(vm, now()))} />
    <${ActionButton} label="Stop" testid="action-stop" access=${props.patch} busy=${busy || halted} onClick=${() => run('stop', () => stopEdit(vm))} />
    <${ActionButton} label="Restart" testid="action-restart" access=${props.patch} busy=${busy || halted} onClick=${() => run('restart', () => restartEdit(vm, now()))} />
    ${vm.spec.paused
      ? html`<${ActionButton} label="Resume" testid="action-resume" access=${props.patch} busy=${busy} onClick=${() => run('resume', () => pauseEdit(vm, false))} />`
      : html`<${ActionButton} label="Pause" testid="action-pause" access=${props.patch} busy=${busy || halted} onClick=${() => run('pause', () => pauseEdit(vm, true))} />`}
    <${DeleteButton} kube=${kube} vm=${vm} access=${props.del} />
    ${denied || delDenied ? html`<p class="reason" id="actions-reason" data-testid="actions-reason">${[denied, delDenied].filter(Boolean).join('; ')}</p>` : null}
    ${message ? html`<p class=${message.error ? 'error' : 'note'} role=${message.error ? 'alert' : 'status'} data-testid="action-message">${message.text}</p>` : null}
  </div>`;
}

/** Resize: vCPUs and memory; a running VM shows RestartRequired until it restarts. */
export function ResizeForm(props: { kube: Kube; vm: VirtualMachine; patch: Access | undefined }) {
  const [cpus, setCpus] = useState('');
  const [memory, setMemory] = useState('');
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>();
  const submit = (e: Event) => {
    e.preventDefault();
    Promise.resolve()
      .then(() => sendEdit(props.kube, props.vm, resizeEdit(props.vm, { ...(cpus ? { cpus: Number(cpus) } : {}), ...(memory ? { memory } : {}) })))
      .then(() => setMessage({ text: 'resize sent: a running VM takes it at its next restart (RestartRequired)', error: false }))
      .catch((err: unknown) => setMessage({ text: `resize refused: ${errorText(err)}`, error: true }));
  };
  const disabled = !props.patch?.allowed;
  return html`<form class="inline-form" onSubmit=${submit} data-testid="resize-form">
    <label>vCPUs <input type="number" min="1" max="512" value=${cpus} data-testid="resize-cpus" onInput=${(e: Event) => setCpus((e.target as HTMLInputElement).value)} /></label>
    <label>Memory <input type="text" placeholder="4Gi" value=${memory} data-testid="resize-memory" onInput=${(e: Event) => setMemory((e.target as HTMLInputElement).value)} /></label>
    <button type="submit" disabled=${disabled} data-testid="resize-submit">Resize</button>
    ${message ? html`<span class=${message.error ? 'error' : 'note'} role="status">${message.text}</span>` : null}
  </form>`;
}

/**
 * Attach a PVC as a hotpluggable disk. The claim is typed, with the namespace's claims as
 * suggestions when the user may list them (kubevmm-vm-user alone may not).
 */
export function AttachForm(props: { kube: Kube; vm: VirtualMachine; patch: Access | undefined; claims: string[] }) {
  const [claim, setClaim] = useState('');
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>();
  const submit = (e: Event) => {
    e.preventDefault();
    Promise.resolve()
      .then(() => sendEdit(props.kube, props.vm, addVolumeEdit(props.vm, { claim: claim.trim() })))
      .then(() => setMessage({ text: `attaching ${claim.trim()}`, error: false }))
      .catch((err: unknown) => setMessage({ text: `attach refused: ${errorText(err)}`, error: true }));
  };
  return html`<form class="inline-form" onSubmit=${submit} data-testid="attach-form">
    <label>PVC to attach <input list="attach-claims" value=${claim} data-testid="attach-claim" placeholder="claim name" onInput=${(e: Event) => setClaim((e.target as HTMLInputElement).value)} /></label>
    <datalist id="attach-claims">${props.claims.map((c) => html`<option value=${c} key=${c}></option>`)}</datalist>
    <button type="submit" disabled=${!props.patch?.allowed || !claim.trim()} data-testid="attach-submit">Attach disk</button>
    ${message ? html`<span class=${message.error ? 'error' : 'note'} role="status" data-testid="attach-message">${message.text}</span>` : null}
  </form>`;
}

/** Detach one hotpluggable disk. */
export function DetachButton(props: { kube: Kube; vm: VirtualMachine; disk: string; patch: Access | undefined; onMessage: (text: string) => void }) {
  const click = () =>
    sendEdit(props.kube, props.vm, removeVolumeEdit(props.vm, props.disk))
      .then(() => props.onMessage(`detaching ${props.disk}`))
      .catch((err: unknown) => props.onMessage(`detach refused: ${errorText(err)}`));
  return html`<button type="button" data-testid=${`detach-${props.disk}`} disabled=${!props.patch?.allowed} onClick=${click}>Detach</button>`;
}

/** Delete, after the user types the VM's name in a dialog. */
function DeleteButton(props: { kube: Kube; vm: VirtualMachine; access: Access | undefined }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState('');
  const name = props.vm.metadata.name;
  const confirm = (e: Event) => {
    e.preventDefault();
    props.kube
      .call(kubevmmPath('virtualmachines', props.vm.metadata.namespace ?? '', name), { method: 'DELETE' })
      .then(() => {
        dialog.current?.close();
        location.hash = routeHash({ page: 'inventory', namespace: props.vm.metadata.namespace ?? '' });
      })
      .catch((err: unknown) => setError(errorText(err)));
  };
  return html`<${ActionButton} label="Delete…" testid="action-delete" danger access=${props.access} onClick=${() => dialog.current?.showModal()} />
    <dialog ref=${dialog} aria-labelledby="delete-title" data-testid="delete-dialog">
      <form onSubmit=${confirm}>
        <h2 id="delete-title">Delete VM ${name}?</h2>
        <p>Its launcher pod and the disks it owns go with it. Type the VM's name to confirm.</p>
        <label>VM name <input data-testid="delete-confirm" value=${typed} onInput=${(e: Event) => setTyped((e.target as HTMLInputElement).value)} /></label>
        ${error ? html`<p class="error" role="alert">${error}</p>` : null}
        <div class="buttons">
          <button type="button" onClick=${() => dialog.current?.close()}>Cancel</button>
          <button type="submit" class="danger" data-testid="delete-submit" disabled=${typed !== name}>Delete</button>
        </div>
      </form>
    </dialog>`;
}
