/**
 * One VM's page: its name and status, the actions, and the tabs (summary, performance,
 * serial console, VNC) as an ARIA tablist (arrow keys move between tabs). The VM is watched,
 * so every tab follows it live; console, VNC and charts load their libraries on first use.
 */
import { html } from 'htm/preact';
import { lazy, Suspense } from 'preact/compat';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import { kubevmmPath, routeHash, VM_TABS, type VmTab } from '../model/paths.js';
import { Actions } from './actions.js';
import { errorText } from './errors.js';
import { useAccess, useLiveList } from './hooks.js';
import { Summary } from './summary.js';

const Performance = lazy(() => import('./performance.js').then((m) => m.Performance));
const Console = lazy(() => import('./console.js').then((m) => m.SerialConsole));
const Vnc = lazy(() => import('./vnc.js').then((m) => m.VncConsole));

const TAB_LABELS: Record<VmTab, string> = { summary: 'Summary', performance: 'Performance', console: 'Serial console', vnc: 'VNC' };

function Tabs(props: { namespace: string; name: string; tab: VmTab }) {
  const go = (tab: VmTab) => (location.hash = routeHash({ page: 'vm', namespace: props.namespace, name: props.name, tab }));
  const onKey = (e: KeyboardEvent) => {
    const i = VM_TABS.indexOf(props.tab);
    const to = e.key === 'ArrowRight' ? (i + 1) % VM_TABS.length : e.key === 'ArrowLeft' ? (i + VM_TABS.length - 1) % VM_TABS.length : -1;
    if (to < 0) return;
    e.preventDefault();
    go(VM_TABS[to]!);
    requestAnimationFrame(() => document.getElementById(`tab-${VM_TABS[to]}`)?.focus());
  };
  return html`<div role="tablist" aria-label="VM views" class="tabs" onKeyDown=${onKey}>
    ${VM_TABS.map((t) => html`<button type="button" role="tab" key=${t} id=${`tab-${t}`} data-testid=${`tab-${t}`} aria-selected=${t === props.tab} aria-controls="tab-panel" tabindex=${t === props.tab ? 0 : -1} onClick=${() => go(t)}>${TAB_LABELS[t]}</button>`)}
  </div>`;
}

/** The page of VM `name`. */
export function VmPage(props: { kube: Kube; namespace: string; name: string; tab: VmTab }) {
  const path = `${kubevmmPath('virtualmachines', props.namespace)}?fieldSelector=${encodeURIComponent(`metadata.name=${props.name}`)}`;
  const live = useLiveList<VirtualMachine>(props.kube, path);
  const access = useAccess(props.kube, props.namespace, props.name, ['patch', 'delete', 'console', 'vnc', 'metrics']);
  const vm = live.items?.[0];
  if (live.items && !vm) return html`<p class="error" role="alert" data-testid="vm-missing">VM ${props.name} is not in namespace ${props.namespace} (deleted, or never there). <a href=${routeHash({ page: 'inventory', namespace: props.namespace })}>Back to the inventory</a></p>`;
  if (!vm) return html`<p>${live.error ? errorText(live.error) : 'loading…'}</p>`;
  const panel = {
    summary: () => html`<${Summary} kube=${props.kube} vm=${vm} patch=${access.patch} />`,
    performance: () => html`<${Performance} kube=${props.kube} vm=${vm} access=${access.metrics} />`,
    console: () => html`<${Console} kube=${props.kube} vm=${vm} access=${access.console} />`,
    vnc: () => html`<${Vnc} kube=${props.kube} vm=${vm} access=${access.vnc} />`,
  }[props.tab];
  return html`<section class="vm-page" aria-labelledby="vm-title" data-testid="vm-page">
    <nav aria-label="Breadcrumb"><a href=${routeHash({ page: 'inventory', namespace: props.namespace })} data-testid="back">${props.namespace}</a> / <span>${vm.metadata.name}</span></nav>
    <h1 id="vm-title">${vm.metadata.name}</h1>
    <${Actions} kube=${props.kube} vm=${vm} patch=${access.patch} del=${access.delete} />
    <${Tabs} namespace=${props.namespace} name=${props.name} tab=${props.tab} />
    <div role="tabpanel" id="tab-panel" aria-labelledby=${`tab-${props.tab}`} class="tab-panel">
      <${Suspense} fallback=${html`<p>loading…</p>`}>${panel()}</${Suspense}>
    </div>
  </section>`;
}
