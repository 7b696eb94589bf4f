/**
 * What the subresource server adds to a stream (ADR 0011): a one-byte echo round trip (a
 * keystroke and the guest's echo of it) and bulk bytes echoed back (a VNC update, a copy over
 * port-forward), through the server (a WebSocket with the front proxy's certificate -> the
 * server's checks -> its mutual-TLS upgrade to the launcher -> the bridge) against the same
 * launcher stream opened directly (the upgrade the server itself makes, no WebSocket). The
 * launcher is the echoing stand-in (harness/stream-launcher.ts); the API server is a stand-in
 * that allows everything, so the checks cost only their own CPU. Everything runs in this
 * process and the two paths alternate per round, so load drifting over the run hits both.
 * It measures the server's overhead, not a cluster's network: the lead's real-node benchmark
 * measures the CLI through a real API server.
 *
 * `npx tsx bench/subresource-stream.ts [--rounds R] [--echoes N] [--mib M]`
 * (default 5 rounds of 1000 echoes and 32 MiB). Prints figures; asserts nothing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { subresourcePath } from '../api/contract/subresource.js';
import { frontProxyPki, testAuthority, testClient, testServing, writeLauncherCredentials } from '../harness/pki.js';
import { startStreamLauncher } from '../harness/stream-launcher.js';
import { openStream } from '../harness/subresource-client.js';
import { requestHeaderConfig } from '../subresource/auth/request-header.js';
import type { SubresourceCluster } from '../subresource/kube.js';
import { LauncherDialer } from '../subresource/launcher-dial.js';
import { silentLog } from '../subresource/log.js';
import { startSubresourceServer } from '../subresource/server.js';
import { ImporterRelay } from '../subresource/upload-relay.js';
import { StreamAcceptor } from '../subresource/stream.js';
import { StreamLimits } from '../subresource/stream-limits.js';
import { machineLine } from './lib/env.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';

const VM = { name: 'bench', namespace: 'bench', uid: '0f0e0d0c-0b0a-4908-8706-050403020100' };

/** A byte pipe both paths offer: send bytes, wait for bytes back. */
interface Pipe {
  send(bytes: Buffer): void;
  /** Resolves once `count` more bytes arrived. */
  receive(count: number): Promise<void>;
  close(): void;
}

function counter(subscribe: (onBytes: (n: number) => void) => void): (count: number) => Promise<void> {
  let got = 0;
  let waiting: { until: number; resolve: () => void } | undefined;
  subscribe((n) => {
    got += n;
    if (waiting && got >= waiting.until) {
      const { resolve } = waiting;
      waiting = undefined;
      resolve();
    }
  });
  return (count) => new Promise<void>((resolve) => (count <= 0 ? resolve() : (waiting = { until: got + count, resolve })));
}

function socketPipe(socket: Duplex): Pipe {
  const receive = counter((on) => socket.on('data', (d: Buffer) => on(d.length)));
  socket.resume();
  return { send: (b) => socket.write(b), receive, close: () => socket.destroy() };
}

function wsPipe(ws: WebSocket): Pipe {
  const receive = counter((on) => ws.on('message', (d: Buffer) => on(d.length)));
  return { send: (b) => ws.send(b, { binary: true }), receive, close: () => ws.terminate() };
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Echo round trips (ms) of one byte at a time. */
async function echoes(pipe: Pipe, n: number): Promise<number[]> {
  const samples: number[] = [];
  const key = Buffer.from('k');
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const back = pipe.receive(1);
    pipe.send(key);
    await back;
    samples.push(performance.now() - started);
  }
  return samples;
}

/** MiB/s of `mib` MiB sent in 64 KiB chunks and echoed back. */
async function bulk(pipe: Pipe, mib: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const total = mib * 1024 * 1024;
  const started = performance.now();
  const back = pipe.receive(total);
  for (let sent = 0; sent < total; sent += chunk.length) {
    pipe.send(chunk);
    if (sent % (4 * 1024 * 1024) === 0) await new Promise((r) => setImmediate(r)); // let the echo flow
  }
  await back;
  return mib / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = intFlag(argv, 'rounds', 5);
  const n = intFlag(argv, 'echoes', 1000);
  const mib = intFlag(argv, 'mib', 32);
  const [proxy, authority, serving] = await Promise.all([frontProxyPki(), testAuthority(), testServing(['localhost'])]);
  const client = await testClient(authority, 'kubevmm-subresources');
  const dir = await mkdtemp(join(tmpdir(), 'bench-subresource-'));
  const files = await writeLauncherCredentials(authority, VM, dir);
  const [cert, key, clientCa] = await Promise.all([files.certFile, files.keyFile, files.clientCaFile].map((f) => readFile(f, 'utf8')));
  const launcher = await startStreamLauncher({ tls: { cert: cert!, key: key!, clientCa: clientCa! }, host: '127.0.0.1', port: 0 });
  const dialer = new LauncherDialer({ tls: () => client, port: launcher.port });
  const allowAll: SubresourceCluster = {
    review: async (body) => ({ ...body, status: { allowed: true } }),
    virtualMachine: async () => ({ uid: VM.uid }),
    launcherPod: async () => ({ controllerUid: VM.uid, podIP: '127.0.0.1', phase: 'Running' }),
    virtualMachineImage: async () => undefined,
    pod: async () => undefined,
    authenticationData: async () => ({}),
  };
  const config = requestHeaderConfig({ 'requestheader-client-ca-file': proxy.caPem, 'requestheader-username-headers': '["X-Remote-User"]' });
  const server = await startSubresourceServer({
    port: 0,
    host: '127.0.0.1',
    tls: { cert: serving.certPem, key: serving.keyPem },
    deps: { requestHeader: () => config, cluster: allowAll, launcher: dialer, importer: new ImporterRelay({ tls: () => client }), acceptor: new StreamAcceptor(), limits: new StreamLimits(), log: silentLog, notReady: () => [] },
  });
  const url = `${server.url.replace('https', 'wss')}${subresourcePath({ namespace: VM.namespace, name: VM.name, subresource: 'console' })}`;
  const paths: Record<string, () => Promise<Pipe>> = {
    direct: async () => socketPipe((await dialer.open({ ip: '127.0.0.1', vmUid: VM.uid }, { subresource: 'console' })).socket),
    'through the server': async () => {
      const opened = await openStream(url, { ca: serving.caPem, servername: 'localhost', cert: proxy.client.certPem, key: proxy.client.keyPem, headers: { 'X-Remote-User': 'bench' } });
      if (!opened.ws) throw new Error(`the server refused the stream: ${opened.status} ${opened.body}`);
      return wsPipe(opened.ws);
    },
  };
  const results: Record<string, { p50: number[]; p99: number[]; mibs: number[]; open: number[] }> = {};
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? Object.keys(paths).reverse() : Object.keys(paths);
    for (const name of order) {
      const r = (results[name] ??= { p50: [], p99: [], mibs: [], open: [] });
      const started = performance.now();
      const pipe = await paths[name]!();
      r.open.push(performance.now() - started);
      const samples = await echoes(pipe, n);
      r.p50.push(percentile(samples, 50));
      r.p99.push(percentile(samples, 99));
      r.mibs.push(await bulk(pipe, mib));
      pipe.close();
    }
  }
  await server.close();
  await launcher.close();
  dialer.close();
  await rm(dir, { recursive: true, force: true });

  console.log(await machineLine());
  console.log(`${rounds} rounds; per round ${n} one-byte echoes and ${mib} MiB echoed back; median (min–max) over rounds\n`);
  const row = (name: string) => {
    const r = results[name]!;
    return [name, formatSummary(summarize(r.open), 2), formatSummary(summarize(r.p50), 3), formatSummary(summarize(r.p99), 3), formatSummary(summarize(r.mibs), 0)];
  };
  console.log(formatTable(['path', 'open ms', 'echo p50 ms', 'echo p99 ms', 'MiB/s echoed'], Object.keys(paths).map(row)));
  const ratio = (f: (r: (typeof results)[string]) => number[]) => (summarize(f(results['through the server']!)).median / summarize(f(results.direct!)).median).toFixed(2);
  console.log(`\nthrough the server / direct: echo p50 x${ratio((r) => r.p50)}, echo p99 x${ratio((r) => r.p99)}, throughput x${ratio((r) => r.mibs)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
