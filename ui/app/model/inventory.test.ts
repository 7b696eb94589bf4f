import type { VirtualMachine } from '../../../api/schema/vm.js';
import { formatAge, moveSelection, quantityBytes, rowOf, rowWindow, scrollToRow, toneOf, visibleRows, type VmRow } from './inventory.js';

const vm = (name: string, status?: Partial<NonNullable<VirtualMachine['status']>>, spec: VirtualMachine['spec'] = {}): VirtualMachine => ({
  apiVersion: 'kubevmm.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'ns', creationTimestamp: '2026-12-01T10:00:00Z' },
  spec,
  ...(status ? { status } : {}),
});

describe('inventory rows', () => {
  it('shows status, node, vCPUs, memory, first IP and the guest OS from the status', () => {
    const row = rowOf(vm('web', { printableStatus: 'Running', nodeName: 'n1', cpus: 4, memory: '8Gi', interfaces: [{ name: 'default', ipAddress: '10.0.0.7' }], guest: { osName: 'Debian GNU/Linux' } }));
    expect(row).toMatchObject({ name: 'web', status: 'Running', tone: 'ok', node: 'n1', cpus: 4, memory: '8Gi', ip: '10.0.0.7', guestOs: 'Debian GNU/Linux' });
  });
  it('falls back to the spec before the operator reported (topology product, guest memory) and says Unknown', () => {
    expect(rowOf(vm('new', undefined, { cpu: { sockets: 2, cores: 3 }, memory: { guest: '2Gi' } }))).toMatchObject({ status: 'Unknown', tone: 'unknown', cpus: 6, memory: '2Gi', ip: '', node: '' });
  });
  it('colours states by family', () => {
    expect(['Running', 'Stopped', 'Starting', 'Paused', 'ErrorUnschedulable', 'CrashLoopBackOff', 'Whatever'].map(toneOf)).toEqual(['ok', 'off', 'busy', 'busy', 'error', 'error', 'unknown']);
  });
  it('prints ages as kubectl does', () => {
    const t = Date.parse('2026-12-01T10:00:00Z');
    expect([30e3, 600e3, 3 * 3600e3, 5 * 86400e3].map((d) => formatAge('2026-12-01T10:00:00Z', t + d))).toEqual(['30s', '10m', '3h', '5d']);
    expect(formatAge('', t)).toBe('');
  });
});

describe('filter and sort', () => {
  const rows: VmRow[] = [
    rowOf(vm('db-10', { printableStatus: 'Running', nodeName: 'b', memory: '512Mi' })),
    rowOf(vm('db-9', { printableStatus: 'Stopped', nodeName: 'a', memory: '2Gi' })),
    rowOf(vm('web-1', { printableStatus: 'Running', nodeName: 'a', memory: '1Gi', guest: { osName: 'Ubuntu' } })),
  ];
  it('keeps rows matching every word, in any column shown', () => {
    expect(visibleRows(rows, 'running a', { key: 'name', descending: false }).map((r) => r.name)).toEqual(['web-1']);
    expect(visibleRows(rows, 'UBUNTU', { key: 'name', descending: false }).map((r) => r.name)).toEqual(['web-1']);
  });
  it('sorts names numerically, memory by size, and descending on request', () => {
    expect(visibleRows(rows, '', { key: 'name', descending: false }).map((r) => r.name)).toEqual(['db-9', 'db-10', 'web-1']);
    expect(visibleRows(rows, '', { key: 'memory', descending: true }).map((r) => r.memory)).toEqual(['2Gi', '1Gi', '512Mi']);
    expect(quantityBytes('1Gi')).toBe(2 ** 30);
    expect(quantityBytes('junk')).toBeNaN();
  });
});

describe('rendering only what is in view', () => {
  it('renders a screenful plus overscan out of 1000 rows', () => {
    expect(rowWindow({ scrollTop: 3400, viewportHeight: 680, rowHeight: 34, count: 1000, overscan: 5 })).toEqual({ first: 95, last: 125 });
    expect(rowWindow({ scrollTop: 0, viewportHeight: 680, rowHeight: 34, count: 3 })).toEqual({ first: 0, last: 3 });
  });
  it('scrolls just enough to show the selected row', () => {
    expect(scrollToRow({ index: 50, scrollTop: 0, viewportHeight: 340, rowHeight: 34 })).toBe(51 * 34 - 340);
    expect(scrollToRow({ index: 2, scrollTop: 340, viewportHeight: 340, rowHeight: 34 })).toBe(68);
    expect(scrollToRow({ index: 12, scrollTop: 340, viewportHeight: 340, rowHeight: 34 })).toBe(340);
  });
  it('moves the selection with arrows, Home/End and pages, staying inside the list', () => {
    expect(moveSelection('ArrowDown', 0, 3, 10)).toBe(1);
    expect(moveSelection('ArrowDown', 2, 3, 10)).toBe(2);
    expect(moveSelection('ArrowUp', 0, 3, 10)).toBe(0);
    expect(moveSelection('End', 0, 1000, 10)).toBe(999);
    expect(moveSelection('PageDown', 995, 1000, 10)).toBe(999);
    expect(moveSelection('a', 0, 3, 10)).toBeUndefined();
    expect(moveSelection('ArrowDown', 0, 0, 10)).toBeUndefined();
  });
});
