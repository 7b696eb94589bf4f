/**
 * A VM's summary: power state, guest, addresses, CPU/memory, disks with their hotplug state,
 * NICs, conditions and the events about it as a timeline (live, like everything else).
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import type { Access } from '../model/access.js';
import { rowOf } from '../model/inventory.js';
import { claimsPath, vmEventsPath } from '../model/paths.js';
import { AttachForm, DetachButton, ResizeForm } from './actions.js';
import { errorText } from './errors.js';
import { useLiveList } from './hooks.js';
import { StatusBadge } from './inventory.js';

interface KubeEvent {
  metadata: { name: string; resourceVersion?: string };
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  count?: number;
}

const eventTime = (e: KubeEvent): string => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? '';

function guestOsText(guest: NonNullable<VirtualMachine['status']>['guest']): string {
  if (!guest?.osName) return '—';
  return `${guest.osName}${guest.kernel ? ` (kernel ${guest.kernel})` : ''}`;
}

function ipsOf(vm: VirtualMachine): string {
  const ips = [...(vm.status?.interfaces ?? []).map((i) => i.ipAddress), ...(vm.status?.guest?.interfaces ?? []).flatMap((i) => i.ipAddresses ?? [])].filter(Boolean);
  return ips.join(', ') || '—';
}

function Facts(props: { vm: VirtualMachine }) {
  const { vm } = props;
  const row = rowOf(vm);
  const facts: [string, unknown][] = [
    ['Power state', html`<${StatusBadge} status=${row.status} tone=${row.tone} />`],
    ['Run strategy', vm.spec.runStrategy ?? 'Always'],
    ['Node', row.node || '—'],
    ['Guest OS', guestOsText(vm.status?.guest)],
    ['Hostname', vm.status?.guest?.hostname ?? '—'],
    ['IP addresses', ipsOf(vm)],
    ['vCPUs', row.cpus ?? '—'],
    ['Memory', row.memory || '—'],
    ['Class', vm.spec.className || '—'],
    ['Accelerator', vm.status?.accelerator ?? '—'],
  ];
  return html`<dl class="facts" data-testid="facts">${facts.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd data-testid=${`fact-${k.toLowerCase().replace(/\s+/g, '-')}`}>${v}</dd></div>`)}</dl>`;
}

function Disks(props: { kube: Kube; vm: VirtualMachine; patch: Access | undefined }) {
  const [message, setMessage] = useState('');
  const phases = new Map((props.vm.status?.disks ?? []).map((d) => [d.name, d]));
  const source = (d: NonNullable<VirtualMachine['spec']['disks']>[number]) =>
    d.persistentVolumeClaim ? `PVC ${d.persistentVolumeClaim.claimName}` : d.containerDisk ? `image ${d.containerDisk.image}` : d.image ? `VirtualMachineImage ${d.image.name}` : d.emptyDisk ? `empty ${d.emptyDisk.capacity}` : 'cloud-init';
  return html`<table class="table" data-testid="disks"><caption>Disks</caption>
    <thead><tr><th scope="col">Name</th><th scope="col">Source</th><th scope="col">Bus</th><th scope="col">Hotplug</th><th scope="col"><span class="sr-only">Detach</span></th></tr></thead>
    <tbody>${(props.vm.spec.disks ?? []).map((d) => {
      const st = phases.get(d.name);
      return html`<tr key=${d.name} data-testid="disk-row" data-name=${d.name}><td>${d.name}</td><td>${source(d)}</td><td>${d.bus ?? 'virtio'}</td>
        <td data-testid="disk-phase">${d.hotpluggable ? `${st?.phase ?? 'Pending'}${st?.target ? ` (${st.target})` : ''}${st?.message ? `: ${st.message}` : ''}` : 'no'}</td>
        <td>${d.hotpluggable ? html`<${DetachButton} kube=${props.kube} vm=${props.vm} disk=${d.name} patch=${props.patch} onMessage=${setMessage} />` : null}</td></tr>`;
    })}</tbody></table>
    ${message ? html`<p class="note" role="status">${message}</p>` : null}`;
}

function Nics(props: { vm: VirtualMachine }) {
  const status = new Map((props.vm.status?.interfaces ?? []).map((i) => [i.name, i]));
  const nics = props.vm.spec.interfaces ?? [{ name: 'default', model: 'virtio' as const, binding: 'masquerade' as const }];
  return html`<table class="table" data-testid="nics"><caption>Network interfaces</caption>
    <thead><tr><th scope="col">Name</th><th scope="col">Model</th><th scope="col">Binding</th><th scope="col">MAC</th><th scope="col">IP</th></tr></thead>
    <tbody>${nics.map((n) => html`<tr key=${n.name}><td>${n.name}</td><td>${n.model ?? 'virtio'}</td><td>${n.binding ?? 'masquerade'}</td><td>${status.get(n.name)?.macAddress ?? n.macAddress ?? ''}</td><td>${status.get(n.name)?.ipAddress ?? ''}</td></tr>`)}</tbody></table>`;
}

function Conditions(props: { vm: VirtualMachine }) {
  const conditions = props.vm.status?.conditions ?? [];
  return html`<table class="table" data-testid="conditions"><caption>Conditions</caption>
    <thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead>
    <tbody>${conditions.map((c) => html`<tr key=${c.type} data-testid=${`condition-${c.type}`} class=${c.type === 'RestartRequired' && c.status === 'True' ? 'warn' : ''}><td>${c.type}</td><td>${c.status}</td><td>${c.reason ?? ''}</td><td>${c.message ?? ''}</td></tr>`)}</tbody></table>`;
}

function Events(props: { kube: Kube; vm: VirtualMachine }) {
  const live = useLiveList<KubeEvent>(props.kube, vmEventsPath(props.vm.metadata.namespace ?? '', props.vm.metadata.name));
  const events = [...(live.items ?? [])].sort((a, b) => eventTime(b).localeCompare(eventTime(a))).slice(0, 50);
  return html`<section aria-labelledby="events-title"><h2 id="events-title">Events</h2>
    <ol class="timeline" data-testid="events">${events.map((e) => html`<li key=${e.metadata.name} class=${e.type === 'Warning' ? 'warn' : ''}><time>${eventTime(e)}</time> <strong>${e.reason}</strong>${e.count && e.count > 1 ? ` ×${e.count}` : ''}: ${e.message}</li>`)}</ol>
    ${live.items && !events.length ? html`<p class="empty">No events.</p>` : null}
    ${live.error && !live.items ? html`<p class="reason" data-testid="events-error">Events unavailable: ${errorText(live.error)}</p>` : null}</section>`;
}

/** The summary tab. */
export function Summary(props: { kube: Kube; vm: VirtualMachine; patch: Access | undefined }) {
  const claims = useLiveList<{ metadata: { name: string } }>(props.kube, props.patch?.allowed ? claimsPath(props.vm.metadata.namespace ?? '') : undefined);
  const restartRequired = props.vm.status?.conditions?.find((c) => c.type === 'RestartRequired' && c.status === 'True');
  return html`<div class="summary" data-testid="summary">
    ${restartRequired ? html`<p class="warn" role="status" data-testid="restart-required">Restart required: ${restartRequired.message ?? 'a change applies at the next restart'}</p>` : null}
    <${Facts} vm=${props.vm} />
    <${ResizeForm} kube=${props.kube} vm=${props.vm} patch=${props.patch} />
    <${Disks} kube=${props.kube} vm=${props.vm} patch=${props.patch} />
    <${AttachForm} kube=${props.kube} vm=${props.vm} patch=${props.patch} claims=${(claims.items ?? []).map((c) => c.metadata.name).sort()} />
    <${Nics} vm=${props.vm} />
    <${Conditions} vm=${props.vm} />
    <${Events} kube=${props.kube} vm=${props.vm} />
  </div>`;
}
