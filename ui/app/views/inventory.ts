/**
 * The inventory: the namespace's VMs, live, filtered and sorted, rendering only the rows in
 * view (a fixed row height makes the window arithmetic exact). Keyboard: the list is one tab
 * stop; arrows, Home/End and PageUp/PageDown move the selection, Enter opens the VM.
 */
import { html } from 'htm/preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import { formatAge, moveSelection, rowOf, rowWindow, scrollToRow, visibleRows, type Sort, type SortKey, type VmRow } from '../model/inventory.js';
import { kubevmmPath, routeHash } from '../model/paths.js';
import { errorText } from './errors.js';
import { useAccess, useLiveList, useNow } from './hooks.js';

const ROW_HEIGHT = 34;
const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'status', label: 'Status' },
  { key: 'node', label: 'Node' },
  { key: 'cpus', label: 'vCPUs' },
  { key: 'memory', label: 'Memory' },
  { key: 'ip', label: 'IP' },
  { key: 'guestOs', label: 'Guest OS' },
  { key: 'created', label: 'Age' },
];

/** A status as text and colour (the colour is never the only signal). */
export function StatusBadge(props: { status: string; tone: string }) {
  return html`<span class=${`badge tone-${props.tone}`} data-testid="status">${props.status}</span>`;
}

function SortHeader(props: { sort: Sort; setSort: (s: Sort) => void }) {
  return html`<div class="grid-row grid-head" role="row">
    ${COLUMNS.map(({ key, label }) => {
      const active = props.sort.key === key;
      const aria = active ? (props.sort.descending ? 'descending' : 'ascending') : 'none';
      return html`<div role="columnheader" aria-sort=${aria} class=${`col col-${key}`} key=${key}>
        <button type="button" data-testid=${`sort-${key}`} onClick=${() => props.setSort({ key, descending: active ? !props.sort.descending : false })}>${label}${active ? (props.sort.descending ? ' ▼' : ' ▲') : ''}</button>
      </div>`;
    })}
  </div>`;
}

function Row(props: { row: VmRow; index: number; selected: boolean; now: number; href: string; onSelect: () => void }) {
  const { row } = props;
  return html`<div role="row" id=${`vmrow-${row.name}`} class=${`grid-row${props.selected ? ' selected' : ''}`} aria-selected=${props.selected} aria-rowindex=${props.index + 2}
      data-testid="vm-row" data-name=${row.name} style=${{ transform: `translateY(${props.index * ROW_HEIGHT}px)` }} onClick=${props.onSelect}>
    <div role="gridcell" class="col col-name"><a href=${props.href} tabindex="-1">${row.name}</a></div>
    <div role="gridcell" class="col col-status"><${StatusBadge} status=${row.status} tone=${row.tone} /></div>
    <div role="gridcell" class="col col-node">${row.node}</div>
    <div role="gridcell" class="col col-cpus">${row.cpus ?? ''}</div>
    <div role="gridcell" class="col col-memory">${row.memory}</div>
    <div role="gridcell" class="col col-ip">${row.ip}</div>
    <div role="gridcell" class="col col-guestOs">${row.guestOs}</div>
    <div role="gridcell" class="col col-created">${formatAge(row.created, props.now)}</div>
  </div>`;
}

/** The inventory page of one namespace. */
export function Inventory(props: { kube: Kube; namespace: string }) {
  const live = useLiveList<VirtualMachine>(props.kube, kubevmmPath('virtualmachines', props.namespace));
  const access = useAccess(props.kube, props.namespace, undefined, ['create']);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<Sort>({ key: 'name', descending: false });
  const [selected, setSelected] = useState(0);
  const [view, setView] = useState({ scrollTop: 0, height: 600 });
  const scroller = useRef<HTMLDivElement>(null);
  const now = useNow();
  const rows = useMemo(() => visibleRows((live.items ?? []).map(rowOf), filter, sort), [live.items, filter, sort]);
  // The selection stays on the list when a filter shortens it.
  const current = Math.max(0, Math.min(selected, rows.length - 1));
  const { first, last } = rowWindow({ scrollTop: view.scrollTop, viewportHeight: view.height, rowHeight: ROW_HEIGHT, count: rows.length });

  useEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    const measure = () => setView({ scrollTop: el.scrollTop, height: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const open = (row: VmRow | undefined) => row && (location.hash = routeHash({ page: 'vm', namespace: props.namespace, name: row.name, tab: 'summary' }));
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter') return open(rows[current]);
    const to = moveSelection(e.key, current, rows.length, Math.max(1, Math.floor(view.height / ROW_HEIGHT) - 1));
    if (to === undefined) return undefined;
    e.preventDefault();
    setSelected(to);
    const el = scroller.current!;
    el.scrollTop = scrollToRow({ index: to, scrollTop: el.scrollTop, viewportHeight: el.clientHeight, rowHeight: ROW_HEIGHT });
    return undefined;
  };
  const create = access.create;
  const active = rows[current];

  return html`<section class="inventory" aria-labelledby="inventory-title" data-testid="inventory">
    <div class="toolbar">
      <h1 id="inventory-title">Virtual machines</h1>
      <label class="filter">Filter <input type="search" data-testid="vm-filter" value=${filter} placeholder="name, status, node, IP, OS" onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} /></label>
      <span data-testid="vm-count" aria-live="polite">${live.items ? `${rows.length} of ${live.items.length}` : 'loading…'}</span>
      ${create?.allowed
        ? html`<a class="button primary" data-testid="create-vm" href=${routeHash({ page: 'create', namespace: props.namespace })}>Create VM</a>`
        : html`<span class="disabled-action"><button type="button" class="primary" disabled data-testid="create-vm">Create VM</button><small data-testid="create-vm-reason">${create ? create.reason : 'checking your rights…'}</small></span>`}
    </div>
    ${live.error ? html`<p class="error" role="alert" data-testid="inventory-error">${errorText(live.error)}</p>` : null}
    <div class="grid" role="grid" aria-label="Virtual machines" aria-rowcount=${rows.length + 1}>
      <${SortHeader} sort=${sort} setSort=${setSort} />
      <div class="grid-body" ref=${scroller} tabindex="0" data-testid="vm-grid" aria-activedescendant=${active ? `vmrow-${active.name}` : undefined}
          onScroll=${(e: Event) => setView({ scrollTop: (e.target as HTMLElement).scrollTop, height: (e.target as HTMLElement).clientHeight })} onKeyDown=${onKey}>
        <div class="grid-spacer" style=${{ height: `${rows.length * ROW_HEIGHT}px` }}>
          ${rows.slice(first, last).map((row, i) => html`<${Row} key=${row.name} row=${row} index=${first + i} now=${now} selected=${first + i === current}
              href=${routeHash({ page: 'vm', namespace: props.namespace, name: row.name, tab: 'summary' })} onSelect=${() => setSelected(first + i)} />`)}
        </div>
        ${live.items && rows.length === 0 ? html`<p class="empty">${live.items.length ? 'No VM matches the filter.' : 'No virtual machines in this namespace.'}</p>` : null}
      </div>
    </div>
  </section>`;
}
