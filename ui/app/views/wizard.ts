/**
 * The create-VM wizard: name, class, size, boot disk (PVC, containerDisk image or
 * VirtualMachineImage), cloud-init user data and an SSH key; the manifest is shown as YAML
 * before it is applied, and each error (the schema's, or the API server's Status causes) is
 * shown on the field it names.
 */
import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import { stringify } from 'yaml';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import { classesPath, claimsPath, kubevmmPath, routeHash } from '../model/paths.js';
import { ApiError } from '../model/status.js';
import { checkManifest, fieldOfPath, manifestOf, WizardError, type WizardForm } from '../model/wizard.js';
import { errorText } from './errors.js';
import { useLiveList } from './hooks.js';

type Named = { metadata: { name: string } };
const names = (items: Named[] | undefined) => (items ?? []).map((i) => i.metadata.name).sort();

function Field(props: { id: keyof WizardForm; label: string; errors: Map<string, string>; children: unknown; hint?: string }) {
  const error = props.errors.get(props.id);
  return html`<div class=${`field${error ? ' invalid' : ''}`} data-testid=${`field-${props.id}`}>
    <label for=${`wiz-${props.id}`}>${props.label}</label>
    ${props.children}
    ${props.hint ? html`<small>${props.hint}</small>` : null}
    ${error ? html`<p class="error" id=${`wiz-${props.id}-error`} data-testid=${`error-${props.id}`}>${error}</p>` : null}
  </div>`;
}

/** The wizard for namespace `namespace`. */
export function Wizard(props: { kube: Kube; namespace: string }) {
  const [form, setForm] = useState<WizardForm>({ namespace: props.namespace, name: '', className: '', cpus: '1', memory: '1Gi', bootSource: 'containerDisk', bootValue: '', userData: '', sshKey: '', start: true });
  const [step, setStep] = useState<'edit' | 'review'>('edit');
  const [errors, setErrors] = useState(new Map<string, string>());
  const [busy, setBusy] = useState(false);
  const classes = useLiveList<Named>(props.kube, classesPath());
  const images = useLiveList<Named>(props.kube, form.bootSource === 'image' ? kubevmmPath('virtualmachineimages', props.namespace) : undefined);
  const claims = useLiveList<Named>(props.kube, form.bootSource === 'pvc' ? claimsPath(props.namespace) : undefined);
  const set = (key: keyof WizardForm) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setForm({ ...form, [key]: t.type === 'checkbox' ? t.checked : t.value });
  };
  const built = useMemo((): { vm?: VirtualMachine; errors: Map<string, string> } => {
    try {
      const vm = manifestOf(form);
      return { vm, errors: checkManifest(vm) };
    } catch (err) {
      if (err instanceof WizardError) return { errors: new Map([[err.field, err.message]]) };
      throw err;
    }
  }, [form]);
  const review = (e: Event) => {
    e.preventDefault();
    setErrors(built.errors);
    if (built.vm && built.errors.size === 0) setStep('review');
  };
  const apply = () => {
    setBusy(true);
    props.kube
      .call(kubevmmPath('virtualmachines', props.namespace), { method: 'POST', body: built.vm })
      .then(() => (location.hash = routeHash({ page: 'vm', namespace: props.namespace, name: form.name.trim(), tab: 'summary' })))
      .catch((err: unknown) => {
        const placed = new Map<string, string>();
        if (err instanceof ApiError) for (const [path, message] of err.fields) placed.set(fieldOfPath(path) ?? '_', `${path}: ${message}`);
        if (!placed.size) placed.set('_', errorText(err));
        setErrors(placed);
        setStep('edit');
      })
      .finally(() => setBusy(false));
  };
  const bootOptions = form.bootSource === 'image' ? names(images.items) : form.bootSource === 'pvc' ? names(claims.items) : [];
  if (step === 'review' && built.vm) {
    return html`<section class="wizard" aria-labelledby="wizard-title" data-testid="wizard">
      <h1 id="wizard-title">Create VM: review</h1>
      <p>This manifest will be created in namespace ${props.namespace}:</p>
      <pre class="manifest" data-testid="wizard-manifest" tabindex="0">${stringify(built.vm)}</pre>
      <div class="buttons"><button type="button" onClick=${() => setStep('edit')} data-testid="wizard-back">Back</button>
        <button type="button" class="primary" disabled=${busy} onClick=${apply} data-testid="wizard-apply">Create</button></div>
    </section>`;
  }
  return html`<section class="wizard" aria-labelledby="wizard-title" data-testid="wizard">
    <h1 id="wizard-title">Create VM in ${props.namespace}</h1>
    <form onSubmit=${review} novalidate>
      ${errors.get('_') ? html`<p class="error" role="alert" data-testid="wizard-error">${errors.get('_')}</p>` : null}
      <${Field} id="name" label="Name" errors=${errors}><input id="wiz-name" data-testid="wiz-name" required value=${form.name} onInput=${set('name')} /><//>
      <${Field} id="className" label="Class" errors=${errors}><select id="wiz-className" data-testid="wiz-class" value=${form.className} onChange=${set('className')}>
        <option value="">(no class)</option>${names(classes.items).map((c) => html`<option key=${c} value=${c}>${c}</option>`)}</select><//>
      <${Field} id="cpus" label="vCPUs" errors=${errors}><input id="wiz-cpus" type="number" min="1" data-testid="wiz-cpus" value=${form.cpus} onInput=${set('cpus')} /><//>
      <${Field} id="memory" label="Memory" errors=${errors} hint="a quantity such as 2Gi"><input id="wiz-memory" data-testid="wiz-memory" value=${form.memory} onInput=${set('memory')} /><//>
      <fieldset><legend>Boot disk</legend>
        ${(['containerDisk', 'pvc', 'image'] as const).map((s) => html`<label key=${s}><input type="radio" name="boot" value=${s} checked=${form.bootSource === s} data-testid=${`wiz-boot-${s}`} onChange=${() => setForm({ ...form, bootSource: s, bootValue: '' })} />
          ${{ containerDisk: 'Container image', pvc: 'Existing PVC', image: 'VirtualMachineImage' }[s]}</label>`)}
        <${Field} id="bootValue" label=${form.bootSource === 'containerDisk' ? 'Image reference' : form.bootSource === 'pvc' ? 'Claim' : 'Image'} errors=${errors}>
          ${form.bootSource === 'containerDisk'
            ? html`<input id="wiz-bootValue" data-testid="wiz-boot-value" placeholder="registry.example/os/debian:12" value=${form.bootValue} onInput=${set('bootValue')} />`
            : html`<select id="wiz-bootValue" data-testid="wiz-boot-value" value=${form.bootValue} onChange=${set('bootValue')}><option value="">choose…</option>${bootOptions.map((o) => html`<option key=${o} value=${o}>${o}</option>`)}</select>`}
        <//>
      </fieldset>
      <${Field} id="userData" label="cloud-init user data" errors=${errors}><textarea id="wiz-userData" rows="6" data-testid="wiz-userdata" value=${form.userData} onInput=${set('userData')}></textarea><//>
      <${Field} id="sshKey" label="SSH public key" errors=${errors} hint="added to #cloud-config as ssh_authorized_keys"><input id="wiz-sshKey" data-testid="wiz-sshkey" value=${form.sshKey} onInput=${set('sshKey')} /><//>
      <label><input type="checkbox" checked=${form.start} data-testid="wiz-start" onChange=${set('start')} /> Start the VM once created</label>
      <div class="buttons"><a href=${routeHash({ page: 'inventory', namespace: props.namespace })}>Cancel</a><button type="submit" class="primary" data-testid="wizard-review">Review manifest</button></div>
    </form>
  </section>`;
}
