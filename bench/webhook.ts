/**
 * Admission webhook latency: the operator's webhook server (operator/webhook/server.ts) over
 * HTTPS with a keep-alive connection, as the kube-apiserver calls it, against a baseline HTTPS
 * server with the same certificate and TLS settings that reads the body and answers a fixed
 * "allowed" review without looking at it. Both run in this process, requests are sequential
 * and interleaved in blocks, so load drifting over the run hits both alike.
 *
 * `npx tsx bench/webhook.ts [--requests N] [--vms M] [--block B]`   (npm run bench:webhook)
 *
 * N requests per kind (default 2000): a valid VM, an invalid one (duplicate disk names and
 * beyond its class's limits: the longest answer) and one refused for a PVC another VM writes.
 * The caches hold M VMs (default 1000) in 10 namespaces and 10 classes, so the PVC check walks
 * a realistic cache. Also prints admit() alone (no HTTP, no TLS). Prints figures; asserts nothing.
 */
import { once } from 'node:events';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { VirtualMachineClass } from '../api/schema/class.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { admit, type AdmissionCaches } from '../operator/webhook/admit.js';
import { createCa, createServing, type PemPair } from '../operator/pki/certs.js';
import { startWebhookServer } from '../operator/webhook/server.js';
import { machineLine } from './lib/env.js';
import { formatTable, intFlag } from './lib/stats.js';

const GOAL_P99_MS = 10;

function fakeCaches(vmCount: number): AdmissionCaches {
  const classes: VirtualMachineClass[] = Array.from({ length: 10 }, (_, i) => ({
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachineClass',
    metadata: { name: `class-${i}` },
    spec: { cpu: { cores: 2 }, memory: { guest: '2Gi' }, limits: { maxCores: 8, maxMemory: '16Gi', maxDisks: 8 } },
  }));
  const vms = Array.from({ length: vmCount }, (_, i) => ({
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: `vm-${i}`, namespace: `team-${i % 10}` },
    spec: { className: `class-${i % 10}`, disks: [{ name: 'root', persistentVolumeClaim: { claimName: `root-${i}` } }] },
    status: { printableStatus: 'Running' },
  })) as unknown as VirtualMachine[];
  return { vms: { list: () => vms }, classes: { list: () => classes }, synced: () => true };
}

function reviewBody(uid: number, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${uid}`,
      kind: { group: 'kubevmm.io', version: 'v1alpha1', kind: 'VirtualMachine' },
      resource: { group: 'kubevmm.io', version: 'v1alpha1', resource: 'virtualmachines' },
      operation: 'CREATE',
      namespace: 'team-3',
      name: 'new-vm',
      userInfo: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
      object: {
        apiVersion: 'kubevmm.io/v1alpha1',
        kind: 'VirtualMachine',
        metadata: { name: 'new-vm', namespace: 'team-3', uid: `obj-${uid}`, creationTimestamp: '2026-11-26T10:00:00Z', managedFields: [{ manager: 'kubectl', operation: 'Apply' }] },
        spec,
      },
      oldObject: null,
      dryRun: false,
    },
  });
}

const KINDS: [name: string, spec: Record<string, unknown>][] = [
  [
    'valid VM',
    {
      className: 'class-3',
      cpu: { cores: 4 },
      disks: [
        { name: 'root', persistentVolumeClaim: { claimName: 'new-root' }, bootOrder: 1 },
        { name: 'cloud', cloudInit: { userData: '#cloud-config\nhostname: new-vm\n' } },
      ],
      interfaces: [{ name: 'default', ports: [{ port: 22 }, { port: 80 }] }],
    },
  ],
  [
    'invalid VM (3 causes)',
    { className: 'class-3', cpu: { cores: 16 }, memory: { guest: '32Gi' }, disks: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }, { name: 'root', emptyDisk: { capacity: '1Gi' } }] },
  ],
  ['PVC written by another VM', { className: 'class-3', disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'root-3' } }] }],
];

/** The baseline: same TLS, reads the body, answers a fixed review. */
async function startEcho(cert: PemPair): Promise<{ port: number; close(): void }> {
  const answer = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'x', allowed: true } });
  const server = createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function post(agent: Agent, ca: string, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      { host: '127.0.0.1', port, path: '/validate/virtualmachines', method: 'POST', agent, ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

interface Row {
  kind: string;
  webhook: number[];
  baseline: number[];
  admitOnly: number[];
}

async function measureKind(kind: string, spec: Record<string, unknown>, ctx: { n: number; block: number; ca: string; webhookPort: number; echoPort: number; caches: AdmissionCaches }): Promise<Row> {
  const row: Row = { kind, webhook: [], baseline: [], admitOnly: [] };
  const agents = [new Agent({ keepAlive: true, maxSockets: 1 }), new Agent({ keepAlive: true, maxSockets: 1 })];
  const [webhookAgent, echoAgent] = agents as [Agent, Agent];
  // Warm-up: TLS handshakes, JIT.
  for (let i = 0; i < 50; i++) {
    await post(webhookAgent, ctx.ca, ctx.webhookPort, reviewBody(i, spec));
    await post(echoAgent, ctx.ca, ctx.echoPort, reviewBody(i, spec));
  }
  for (let done = 0; done < ctx.n; done += ctx.block) {
    const count = Math.min(ctx.block, ctx.n - done);
    const order = (done / ctx.block) % 2 === 0 ? ['webhook', 'baseline'] : ['baseline', 'webhook'];
    for (const which of order) {
      for (let i = 0; i < count; i++) {
        const body = reviewBody(done + i, spec);
        if (which === 'webhook') row.webhook.push(await post(webhookAgent, ctx.ca, ctx.webhookPort, body));
        else row.baseline.push(await post(echoAgent, ctx.ca, ctx.echoPort, body));
      }
    }
  }
  for (let i = 0; i < ctx.n; i++) {
    const body = reviewBody(i, spec);
    const started = performance.now();
    admit(JSON.parse(body), ctx.caches);
    row.admitOnly.push(performance.now() - started);
  }
  agents.forEach((a) => a.destroy());
  return row;
}

async function main(): Promise<void> {
  const n = intFlag(process.argv, 'requests', 2000);
  const vmCount = intFlag(process.argv, 'vms', 1000);
  const block = intFlag(process.argv, 'block', 100);
  console.log(await machineLine());
  console.log(`webhook bench: ${n} sequential requests per kind over one keep-alive HTTPS connection, ${vmCount} VMs in the cache, blocks of ${block} interleaved with the baseline\n`);
  const ca = await createCa(new Date());
  const cert = await createServing(ca, ['127.0.0.1'], new Date());
  const caches = fakeCaches(vmCount);
  const webhook = await startWebhookServer({ port: 0, host: '127.0.0.1', certificate: cert, caches, review: () => Promise.reject(new Error('the benchmark sends VirtualMachines only')) });
  const echo = await startEcho(cert);
  const rows: Row[] = [];
  try {
    for (const [kind, spec] of KINDS) {
      rows.push(await measureKind(kind, spec, { n, block, ca: ca.certPem, webhookPort: webhook.port, echoPort: echo.port, caches }));
    }
  } finally {
    await webhook.close();
    echo.close();
  }
  const ms = (v: number) => v.toFixed(2);
  console.log(
    formatTable(
      ['request', 'webhook p50', 'webhook p99', 'baseline p50', 'baseline p99', 'ratio p50', 'ratio p99', 'admit() p50', 'admit() p99'],
      rows.map((r) => {
        const [w50, w99, b50, b99] = [percentile(r.webhook, 50), percentile(r.webhook, 99), percentile(r.baseline, 50), percentile(r.baseline, 99)];
        return [r.kind, ms(w50), ms(w99), ms(b50), ms(b99), (w50 / b50).toFixed(2), (w99 / b99).toFixed(2), ms(percentile(r.admitOnly, 50)), ms(percentile(r.admitOnly, 99))];
      }),
    ),
  );
  const worst = Math.max(...rows.map((r) => percentile(r.webhook, 99)));
  console.log(`\nms, client-side round trip. Worst webhook p99 ${ms(worst)} ms; goal < ${GOAL_P99_MS} ms: ${worst < GOAL_P99_MS ? 'met' : 'NOT met'}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
