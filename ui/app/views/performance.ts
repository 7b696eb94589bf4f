/**
 * The performance tab: polls the `virtualmachines/metrics` subresource every few seconds,
 * keeps the last ten minutes in the page, and draws CPU, memory and disk I/O with uPlot.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { vmMetricsObject } from '../../../api/contract/subresource.js';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import type { Access } from '../model/access.js';
import { MetricsHistory, type Point } from '../model/metrics.js';
import { vmSubresourcePath } from '../model/paths.js';
import { errorText } from './errors.js';

/** Seconds between samples. */
export const POLL_SECONDS = 3;

type Field = keyof Omit<Point, 't'>;
interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  fields: { field: Field; label: string; stroke: string }[];
}

const CHARTS: ChartSpec[] = [
  { id: 'cpu', title: 'CPU', unit: '%', fields: [{ field: 'cpuPercent', label: 'QEMU CPU %', stroke: '#2563eb' }] },
  { id: 'memory', title: 'Memory', unit: 'MiB', fields: [{ field: 'residentMiB', label: 'resident MiB', stroke: '#16a34a' }, { field: 'guestMiB', label: 'guest MiB', stroke: '#9ca3af' }] },
  { id: 'disk', title: 'Disk I/O', unit: 'KiB/s', fields: [{ field: 'readKiBs', label: 'read KiB/s', stroke: '#9333ea' }, { field: 'writeKiBs', label: 'write KiB/s', stroke: '#ea580c' }] },
];

function Chart(props: { spec: ChartSpec; history: MetricsHistory; tick: number }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!host.current) return undefined;
    const opts: uPlot.Options = {
      width: Math.max(300, host.current.clientWidth),
      height: 180,
      series: [{}, ...props.spec.fields.map((f) => ({ label: f.label, stroke: f.stroke, width: 2 }))],
      axes: [{}, { label: props.spec.unit }],
    };
    plot.current = new uPlot(opts, props.history.columns(props.spec.fields.map((f) => f.field)) as uPlot.AlignedData, host.current);
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData(props.history.columns(props.spec.fields.map((f) => f.field)) as uPlot.AlignedData);
  }, [props.tick]);
  return html`<figure class="chart" data-testid=${`chart-${props.spec.id}`}><figcaption>${props.spec.title}</figcaption><div ref=${host}></div></figure>`;
}

/** The performance tab of `vm`. */
export function Performance(props: { kube: Kube; vm: VirtualMachine; access: Access | undefined }) {
  const history = useRef(new MetricsHistory());
  const [tick, setTick] = useState(0);
  const [error, setError] = useState('');
  const allowed = props.access?.allowed;
  useEffect(() => {
    if (!allowed) return undefined;
    history.current = new MetricsHistory();
    const abort = new AbortController();
    const path = vmSubresourcePath(props.vm.metadata.namespace ?? '', props.vm.metadata.name, 'metrics');
    const poll = () =>
      props.kube
        .call<unknown>(path, { signal: abort.signal })
        .then((body) => {
          history.current.add(vmMetricsObject.parse(body));
          setError('');
          setTick((t) => t + 1);
        })
        .catch((err: unknown) => abort.signal.aborted || setError(errorText(err)));
    void poll();
    const timer = setInterval(() => void poll(), POLL_SECONDS * 1000);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [props.kube, props.vm.metadata.uid, allowed]);
  if (!props.access) return html`<p>checking your rights…</p>`;
  if (!props.access.allowed) return html`<p class="reason" data-testid="metrics-denied">Metrics unavailable: ${props.access.reason}</p>`;
  return html`<div class="performance" data-testid="performance">
    <p class="note">Sampled every ${POLL_SECONDS} s; the last 10 minutes are kept while this tab is open.</p>
    ${error ? html`<p class="error" role="alert" data-testid="metrics-error">${error}</p>` : null}
    ${CHARTS.map((spec) => html`<${Chart} key=${spec.id} spec=${spec} history=${history.current} tick=${tick} />`)}
  </div>`;
}
