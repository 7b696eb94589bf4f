// What one API call costs from Node, by how the connection is made: client-node 1.4 builds a new
// https.Agent for every request (KubeConfig.applySecurityAuthentication -> createAgent), so
// every call pays a TLS handshake with client-certificate authentication; a keep-alive agent
// pays it once, and so does client-node behind useKeepAlive (what the operator runs).
// Measured with sequential GETs of one small object.

import { Agent, request } from 'node:https';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { useKeepAlive } from '../../operator/kube/keep-alive.js';
import type { Cluster } from './operator-scale-cluster.js';
import { sampleProcess } from './operator-scale-proc.js';
import { percentile } from './operator-scale-report.js';
import { formatTable } from './stats.js';

/** The cost of one call, as seen by this process and by the API server. */
export interface CallCost {
  variant: string;
  /** Per-call wall times, ms. */
  wall: number[];
  /** This process's CPU (user + system) per call, ms. */
  clientCpuMs: number;
  /** The API server's CPU per call, ms (NaN without its pid). */
  serverCpuMs: number;
}

type Tls = { ca?: unknown; cert?: unknown; key?: unknown };

async function tlsOptions(cluster: Cluster): Promise<Tls> {
  const opts: Tls = {};
  await cluster.kc.applyToHTTPSOptions(opts as never);
  return { ca: opts.ca, cert: opts.cert, key: opts.key };
}

function get(url: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${url}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(variant: string, calls: number, apiserverPid: number | undefined, call: () => Promise<void>): Promise<CallCost> {
  await call(); // warm-up: module loading, first connection
  const server0 = apiserverPid ? await sampleProcess(apiserverPid) : undefined;
  const cpu0 = process.cpuUsage();
  const wall: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await call();
    wall.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  const server1 = apiserverPid ? await sampleProcess(apiserverPid) : undefined;
  const serverCpu = server0 && server1 ? ((server1.cpuSeconds - server0.cpuSeconds) * 1000) / calls : NaN;
  return { variant, wall, clientCpuMs: (cpu.user + cpu.system) / 1000 / calls, serverCpuMs: serverCpu };
}

/**
 * Sequential GETs of the `default` namespace four ways: client-node as it comes, client-node
 * with useKeepAlive, a fresh agent per call, one keep-alive agent.
 */
export async function probeCallCost(cluster: Cluster, opts: { calls: number; apiserverPid?: number }): Promise<CallCost[]> {
  const tls = await tlsOptions(cluster);
  const url = `${cluster.server}/api/v1/namespaces/default`;
  const keepAlive = new Agent({ ...(tls as object), keepAlive: true, maxSockets: 1 });
  const kept = new KubeConfig();
  kept.loadFromString(cluster.kc.exportConfig());
  const closeKept = useKeepAlive(kept);
  const keptCore = kept.makeApiClient(CoreV1Api);
  const results = [
    await measure('client-node 1.4 CoreV1Api.readNamespace', opts.calls, opts.apiserverPid, async () => void (await cluster.core.readNamespace({ name: 'default' }))),
    await measure('client-node 1.4 with useKeepAlive (the operator)', opts.calls, opts.apiserverPid, async () => void (await keptCore.readNamespace({ name: 'default' }))),
    await measure('node:https, new Agent per call (no reuse)', opts.calls, opts.apiserverPid, () => get(url, new Agent({ ...(tls as object), keepAlive: false }))),
    await measure('node:https, one keep-alive Agent', opts.calls, opts.apiserverPid, () => get(url, keepAlive)),
  ];
  keepAlive.destroy();
  closeKept();
  return results;
}

/** The probe as a table. */
export function callCostTable(costs: readonly CallCost[]): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const rows = costs.map((c) => [c.variant, f(percentile(c.wall, 50)), f(percentile(c.wall, 99)), f(c.clientCpuMs), f(c.serverCpuMs)]);
  return formatTable(['sequential GET of one namespace', 'wall p50 ms', 'wall p99 ms', 'client CPU ms/call', 'apiserver CPU ms/call'], rows);
}
