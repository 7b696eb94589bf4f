// The chart's alerts and dashboard as an operations team meets them: the PrometheusRule loads in
// promtool (Prometheus's own rule checker, built from its Go module by scripts/install-deps.sh),
// each alert fires on the series that mean trouble and stays quiet otherwise (promtool's rule
// unit tests), every metric a rule or a dashboard panel reads is one the code exports, and every
// alert has its runbook section.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { renderSnapshot } from '../../launcher/metrics/render.js';
import { createMetrics } from '../../operator/metrics.js';
import { CHART_DIR, pick, template, type Manifest } from './helpers/helm.js';
import { exposedNames, metricNames } from './helpers/promql.js';

const run = promisify(execFile);
const INSTALL_HINT = 'bash scripts/install-deps.sh (builds promtool from github.com/prometheus/prometheus into ~/.cache/kubevmm/tools)';

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function findPromtool(): string {
  const tools = process.env.KUBEVMM_TOOLS ?? join(homedir(), '.cache', 'kubevmm', 'tools');
  const candidates = [join(tools, 'bin', 'promtool'), ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'promtool'))];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`promtool is missing (looked in ${candidates[0]} and PATH); install it with: ${INSTALL_HINT}`);
  return found;
}

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(findPromtool(), args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`, { cause: err });
  }
}

let dir: string;
let objects: Manifest[];
let rules: Rule[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-alerts-'));
  objects = await template({ 'metrics.prometheusRule.enabled': true, 'metrics.grafanaDashboard.enabled': true });
  const spec = pick(objects, 'PrometheusRule').spec as { groups: { name: string; rules: Rule[] }[] };
  rules = spec.groups.flatMap((g) => g.rules);
  await writeFile(join(dir, 'rules.yaml'), stringify({ groups: spec.groups }));
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The rule's annotations with its value filled in, as Prometheus renders them. */
function annotations(name: string, value: string, percent = ''): Record<string, string> {
  const rule = rules.find((r) => r.alert === name);
  if (!rule) throw new Error(`no alert ${name}`);
  return Object.fromEntries(
    Object.entries(rule.annotations).map(([k, v]) => [k, v.replace('{{ $value | humanizePercentage }}', percent).replaceAll('{{ $value }}', value)]),
  );
}

function fires(name: string, value: string, percent = '') {
  const rule = rules.find((r) => r.alert === name);
  return [{ exp_labels: rule?.labels ?? {}, exp_annotations: annotations(name, value, percent) }];
}

/** promtool rule unit tests: for each alert, series that must fire it (after its `for`) and series that must not. */
function unitTests() {
  const at = (alertname: string, evalTime: string, expAlerts: unknown[]) => ({ eval_time: evalTime, alertname, exp_alerts: expAlerts });
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: [
      {
        name: 'a crash-looping VM, reported by both replicas',
        interval: '1m',
        input_series: [
          { series: 'kubevmm_vms{status="CrashLoopBackOff",pod="op-a"}', values: '2x40' },
          { series: 'kubevmm_vms{status="CrashLoopBackOff",pod="op-b"}', values: '2x40' },
          { series: 'kubevmm_vms{status="Running",pod="op-a"}', values: '50x40' },
        ],
        alert_rule_test: [at('KubevmmVMCrashLooping', '10m', []), at('KubevmmVMCrashLooping', '20m', fires('KubevmmVMCrashLooping', '2'))],
      },
      {
        name: 'unreachable launchers on the leader, none on the standby; a failed hotplug disk',
        interval: '1m',
        input_series: [
          { series: 'kubevmm_launchers_unreachable{pod="op-a"}', values: '3x40' },
          { series: 'kubevmm_launchers_unreachable{pod="op-b"}', values: '0x40' },
          { series: 'kubevmm_vm_disks{phase="Failed",pod="op-a"}', values: '1x40' },
          { series: 'kubevmm_vm_disks{phase="Attached",pod="op-a"}', values: '4x40' },
        ],
        alert_rule_test: [
          at('KubevmmLauncherUnreachable', '5m', []),
          at('KubevmmLauncherUnreachable', '15m', fires('KubevmmLauncherUnreachable', '3')),
          at('KubevmmHotplugFailed', '3m', []),
          at('KubevmmHotplugFailed', '10m', fires('KubevmmHotplugFailed', '1')),
        ],
      },
      {
        name: 'no replica leads',
        interval: '1m',
        input_series: [
          { series: 'kubevmm_leader{pod="op-a"}', values: '1 1 0x40' },
          { series: 'kubevmm_leader{pod="op-b"}', values: '0x40' },
        ],
        alert_rule_test: [at('KubevmmNoLeader', '1m', []), at('KubevmmNoLeader', '5m', []), at('KubevmmNoLeader', '10m', fires('KubevmmNoLeader', ''))],
      },
      {
        name: 'one replica leads: quiet; reviews all decided: quiet; a deep but flat queue: quiet',
        interval: '1m',
        input_series: [
          { series: 'kubevmm_leader{pod="op-a"}', values: '1x40' },
          { series: 'kubevmm_leader{pod="op-b"}', values: '0x40' },
          { series: 'kubevmm_webhook_reviews_total{resource="virtualmachines",result="allowed"}', values: '0+5x40' },
          { series: 'kubevmm_webhook_reviews_total{resource="virtualmachines",result="denied"}', values: '0+1x40' },
          { series: 'kubevmm_workqueue_depth{pod="op-a"}', values: '150x40' },
        ],
        alert_rule_test: [at('KubevmmNoLeader', '30m', []), at('KubevmmWebhookErrors', '30m', []), at('KubevmmOperatorQueueGrowing', '30m', [])],
      },
      {
        name: 'half the reviews end in an error; the queue grows past the threshold',
        interval: '1m',
        input_series: [
          { series: 'kubevmm_webhook_reviews_total{resource="virtualmachines",result="allowed"}', values: '0+1x40' },
          { series: 'kubevmm_webhook_reviews_total{resource="virtualmachines",result="error"}', values: '0+1x40' },
          { series: 'kubevmm_workqueue_depth{pod="op-a"}', values: '0+10x40' },
          { series: 'kubevmm_workqueue_depth{pod="op-b"}', values: '0x40' },
        ],
        alert_rule_test: [
          at('KubevmmWebhookErrors', '8m', []),
          at('KubevmmWebhookErrors', '20m', fires('KubevmmWebhookErrors', '', '50%')),
          at('KubevmmOperatorQueueGrowing', '20m', []),
          at('KubevmmOperatorQueueGrowing', '30m', fires('KubevmmOperatorQueueGrowing', '300')),
        ],
      },
    ],
  };
}

describe('the PrometheusRule', () => {
  it('has the six alerts of the issue, each with a severity and a runbook section', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      ['KubevmmHotplugFailed', 'KubevmmLauncherUnreachable', 'KubevmmNoLeader', 'KubevmmOperatorQueueGrowing', 'KubevmmVMCrashLooping', 'KubevmmWebhookErrors'].sort(),
    );
    const runbooks = readFileSync('docs/runbooks.md', 'utf8');
    for (const r of rules) {
      expect(r.labels.severity).toMatch(/^(warning|critical)$/);
      expect(runbooks).toContain(`\n## ${r.alert}\n`);
      expect(r.annotations.runbook_url).toBe(`https://github.com/kubevmm/kubevmm/blob/main/docs/runbooks.md#${r.alert.toLowerCase()}`);
    }
  });

  it('passes promtool check rules', async () => {
    expect(await promtool('check', 'rules', join(dir, 'rules.yaml'))).toMatch(/SUCCESS: 6 rules found/);
  }, 60_000);

  it('fires each alert on the series that mean trouble, after its for:, and stays quiet otherwise (promtool test rules)', async () => {
    await writeFile(join(dir, 'tests.yaml'), stringify(unitTests()));
    expect(await promtool('test', 'rules', join(dir, 'tests.yaml'))).toMatch(/SUCCESS/);
  }, 60_000);
});

/** Every series name the operator and a launcher export. */
async function exportedNames(): Promise<Set<string>> {
  const operator = await createMetrics().render();
  const launcher = await renderSnapshot({
    vm: { name: 'web', namespace: 'prod' },
    state: 'running',
    accelerator: 'tcg',
    vcpuSeconds: [{ vcpu: 0, seconds: 1 }],
    qemuCpuSeconds: 2,
    qemuResidentBytes: 3,
    guestMemoryBytes: 4,
    balloonBytes: 5,
    disks: [{ disk: 'root', readBytes: 1, writeBytes: 1, readOps: 1, writeOps: 1, flushOps: 1, readSeconds: 1, writeSeconds: 1, flushSeconds: 1 }],
    failed: ['proc'],
  });
  return new Set([...exposedNames(operator.body), ...exposedNames(launcher.body)]);
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

describe('metrics the rules and the dashboard read', () => {
  it('every metric an alert names is exported by the operator', async () => {
    const exported = await exportedNames();
    const unknown = rules.flatMap((r) => metricNames(r.expr).filter((n) => !exported.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(unknown).toEqual([]);
    expect(rules.flatMap((r) => metricNames(r.expr)).length).toBeGreaterThanOrEqual(6);
  });

  it('every metric a dashboard panel or variable reads is exported by the operator or a launcher', async () => {
    const exported = await exportedNames();
    const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards', 'kubevmm.json'), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { query?: unknown }[] } };
    const exprs = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
      ...dashboard.templating.list.flatMap((v) => (v.query && typeof v.query === 'object' ? [{ where: 'variable', expr: (v.query as { query: string }).query }] : [])),
    ];
    expect(exprs.length).toBeGreaterThan(25);
    const unknown = exprs.flatMap((e) => metricNames(e.expr).filter((n) => !exported.has(n)).map((n) => `${e.where}: ${n}`));
    expect(unknown).toEqual([]);
    // Every family the operator and the launcher document appears on the dashboard.
    const shown = new Set(exprs.flatMap((e) => metricNames(e.expr)).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    const kubevmm = [...exported].filter((n) => n.startsWith('kubevmm_') && !/_(bucket|sum|count)$/.test(n));
    expect(kubevmm.filter((n) => !shown.has(n))).toEqual([]);
  });

  it('ships the dashboard JSON in a ConfigMap for Grafana’s sidecar', () => {
    const map = pick(objects, 'ConfigMap', 'kubevmm-dashboard');
    expect(map.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    const data = (map as unknown as { data: Record<string, string> }).data;
    expect(JSON.parse(data['kubevmm.json'] ?? '')).toEqual(JSON.parse(readFileSync(join(CHART_DIR, 'dashboards', 'kubevmm.json'), 'utf8')));
  });
});

describe('metricNames', () => {
  it('finds the metrics of an expression and nothing of PromQL’s own', () => {
    expect(metricNames('sum by (verb, le) (rate(kubevmm_api_requests_total{code!="200", verb=~"get|list"}[5m])) / on (pod) group_left kubevmm_leader')).toEqual(['kubevmm_api_requests_total', 'kubevmm_leader']);
    expect(metricNames('(sum(kubevmm_leader) or vector(0)) < 1')).toEqual(['kubevmm_leader']);
    expect(metricNames('label_values(kubevmm_vm_info{namespace=~"$namespace"}, vm)')).toEqual(['kubevmm_vm_info']);
  });
});
