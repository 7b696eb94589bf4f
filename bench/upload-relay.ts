/**
 * What the subresource server adds to an image upload (`virtualmachineimages/upload`): PUTs of
 * a file to an importer directly (the subresource server's own mutual-TLS request, no relay)
 * against the same PUTs through the server (the front proxy's certificate -> the checks -> the
 * relay piping the body to the importer). The importer is the stand-in of
 * harness/importer-upload.ts (it hashes what arrives, as the real one writes it); the API
 * server is a stand-in that allows everything. Also the growth of this process's resident
 * memory while a whole file goes through, against the direct path: a relay that held the file
 * would grow by the file's size. Both paths alternate per round. It measures the server's
 * overhead, not a cluster's network or the API server's proxy.
 *
 * `npx tsx bench/upload-relay.ts [--rounds R] [--mib M] [--put-mib P]` (default 5 rounds of
 * 256 MiB in PUTs of 64 MiB). Prints figures; asserts nothing.
 */
import { request } from 'node:https';
import { Readable } from 'node:stream';
import { UPLOAD_LENGTH_HEADER, UPLOAD_OFFSET_HEADER, UPLOAD_PATH } from '../api/contract/importer.js';
import { imageUploadPath } from '../api/contract/subresource.js';
import { launcherServerName } from '../api/layout.js';
import { startImporterUpload } from '../harness/importer-upload.js';
import { frontProxyPki, serverTls, testAuthority, testClient, testServing } from '../harness/pki.js';
import { requestHeaderConfig } from '../subresource/auth/request-header.js';
import type { SubresourceCluster } from '../subresource/kube.js';
import { LauncherDialer } from '../subresource/launcher-dial.js';
import { silentLog } from '../subresource/log.js';
import { startSubresourceServer } from '../subresource/server.js';
import { StreamAcceptor } from '../subresource/stream.js';
import { StreamLimits } from '../subresource/stream-limits.js';
import { ImporterRelay } from '../subresource/upload-relay.js';
import { machineLine } from './lib/env.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';

const IMAGE = { name: 'bench', namespace: 'bench', uid: '0b1c2d3e-4f50-4617-8899-aabbccddeeff' };

/** A body of `bytes` zero bytes in 1 MiB pieces (what a file read stream hands over). */
function body(bytes: number): Readable {
  const piece = Buffer.alloc(2 ** 20);
  let left = bytes;
  return new Readable({
    read() {
      const n = Math.min(left, piece.length);
      left -= n;
      this.push(n ? piece.subarray(0, n) : null);
    },
  });
}

type Target = { url: string; tls: { ca: string; cert: string; key: string; servername: string }; headers: Record<string, string> };

/** One PUT of `bytes` at `offset`; resolves with the status. */
function put(target: Target, offset: number, bytes: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { ...target.headers, 'content-length': String(bytes), [UPLOAD_OFFSET_HEADER]: String(offset), ...(offset === 0 ? { [UPLOAD_LENGTH_HEADER]: String(length) } : {}) };
    const req = request(target.url, { ...target.tls, method: 'PUT', agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    body(bytes).pipe(req);
  });
}

/** Sends a whole file of `total` bytes as PUTs of `each`; MiB/s, and the peak RSS growth in MiB. */
async function upload(target: Target, total: number, each: number): Promise<{ mibs: number; rssMib: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  for (let offset = 0; offset < total; offset += each) {
    const code = await put(target, offset, Math.min(each, total - offset), total);
    if (code >= 300) throw new Error(`PUT at ${offset} answered ${code}`);
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  return { mibs: total / 2 ** 20 / seconds, rssMib: (peak - before) / 2 ** 20 };
}

async function main(): Promise<void> {
  const rounds = intFlag(process.argv, 'rounds', 5);
  const total = intFlag(process.argv, 'mib', 256) * 2 ** 20;
  const each = intFlag(process.argv, 'put-mib', 64) * 2 ** 20;
  const [proxy, authority, serving] = await Promise.all([frontProxyPki(), testAuthority(), testServing(['localhost'])]);
  const client = await testClient(authority, 'kubevmm-subresources');
  const importer = await startImporterUpload({ tls: await serverTls(authority, IMAGE), host: '127.0.0.1', port: 0 });
  const allowAll: SubresourceCluster = {
    review: async (b) => ({ ...b, status: { allowed: true } }),
    virtualMachine: async () => undefined,
    launcherPod: async () => undefined,
    virtualMachineImage: async () => ({ uid: IMAGE.uid, source: 'upload', phase: 'Pending', importerPod: 'bench-importer' }),
    pod: async () => ({ controllerUid: IMAGE.uid, podIP: '127.0.0.1', phase: 'Running' }),
    authenticationData: async () => ({}),
  };
  const config = requestHeaderConfig({ 'requestheader-client-ca-file': proxy.caPem, 'requestheader-username-headers': '["X-Remote-User"]' });
  const server = await startSubresourceServer({
    port: 0,
    host: '127.0.0.1',
    tls: { cert: serving.certPem, key: serving.keyPem },
    deps: { requestHeader: () => config, cluster: allowAll, launcher: new LauncherDialer({ tls: () => client }), importer: new ImporterRelay({ tls: () => client, port: importer.port }), acceptor: new StreamAcceptor(), limits: new StreamLimits(), log: silentLog, notReady: () => [] },
  });
  const paths: Record<string, Target> = {
    direct: { url: `https://127.0.0.1:${importer.port}${UPLOAD_PATH}`, tls: { ca: client.ca, cert: client.cert, key: client.key, servername: launcherServerName(IMAGE.uid) }, headers: {} },
    'through the server': { url: `${server.url}${imageUploadPath({ namespace: IMAGE.namespace, name: IMAGE.name })}`, tls: { ca: serving.caPem, cert: proxy.client.certPem, key: proxy.client.keyPem, servername: 'localhost' }, headers: { 'X-Remote-User': 'bench' } },
  };
  const results: Record<string, { mibs: number[]; rss: number[] }> = {};
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? Object.keys(paths).reverse() : Object.keys(paths);
    for (const name of order) {
      importer.reset();
      const r = (results[name] ??= { mibs: [], rss: [] });
      const { mibs, rssMib } = await upload(paths[name]!, total, each);
      if (importer.offset !== total) throw new Error(`${name}: the importer holds ${importer.offset} of ${total} bytes`);
      r.mibs.push(mibs);
      r.rss.push(rssMib);
    }
  }
  await server.close();
  await importer.close();

  console.log(await machineLine());
  console.log(`${rounds} rounds; per round ${total / 2 ** 20} MiB in PUTs of ${each / 2 ** 20} MiB; median (min–max) over rounds\n`);
  const row = (name: string) => [name, formatSummary(summarize(results[name]!.mibs), 0), formatSummary(summarize(results[name]!.rss), 0)];
  console.log(formatTable(['path', 'MiB/s', 'peak RSS growth MiB'], Object.keys(paths).map(row)));
  const ratio = summarize(results['through the server']!.mibs).median / summarize(results.direct!.mibs).median;
  console.log(`\nthrough the server / direct: throughput x${ratio.toFixed(2)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
