import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { failureStatus, STREAM_PROTOCOL } from '../../api/contract/subresource.js';
import { MAX_STREAM_MESSAGE_BYTES } from '../../api/contract/stream-message.js';
import type { ClusterContext } from './context.js';
import { openStream, streamUrl, StreamConnectError, StreamFailedError, StreamRefusedError } from './stream.js';

/** A stand-in for the API server in front of the subresource server: one behaviour per VM name. */
let server: Server;
let base: string;
const seen: { authorization?: string; protocols?: string }[] = [];
/** The sizes of the messages the `sizes` VM received. */
const sizes: number[] = [];

const BEHAVIOUR: Record<string, (ws: WebSocket) => void> = {
  echo: (ws) => ws.on('message', (data: Buffer) => ws.send(data)),
  text: (ws) => ws.send('hello as text'),
  sizes: (ws) => ws.on('message', (data: Buffer) => sizes.push(data.length)),
  fail: (ws) => ws.close(1011, 'the launcher went away'),
  end: (ws) => ws.send(Buffer.from('bye'), () => ws.close(1000, 'the VM stopped')),
  // 8 MiB in 64-KiB messages, as fast as the socket takes them, then the end.
  flood: (ws) => {
    for (let i = 0; i < 128; i++) ws.send(Buffer.alloc(64 * 1024, i));
    ws.close(1000, 'all sent');
  },
};

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered, req) => (vmOf(req) === 'noproto' ? false : offered.has(STREAM_PROTOCOL) && STREAM_PROTOCOL) });
  wss.on('headers', (headers) => headers.push('kubevmm-console-mode: read-only'));
  server = createServer();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.push({ authorization: req.headers.authorization, protocols: req.headers['sec-websocket-protocol'] });
    const vm = vmOf(req);
    if (vm === 'denied') {
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify(failureStatus('Forbidden', 'user "bob" cannot get virtualmachines/console', { name: vm }))}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => (BEHAVIOUR[vm] ?? BEHAVIOUR.echo!)(ws));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

function vmOf(req: IncomingMessage): string {
  return /virtualmachines\/([^/]+)\//.exec(req.url ?? '')?.[1] ?? '';
}

function context(server: string): ClusterContext {
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'team-a' }],
    currentContext: 'x',
  });
  return { kubeconfig, namespace: 'team-a', server, source: 'test', contextName: 'x' };
}

function collect(stream: Duplex): Promise<string> {
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve(text));
    stream.once('error', reject);
  });
}

describe('openStream', () => {
  it('builds the WebSocket URL of the subresource from the server URL', () => {
    expect(streamUrl('https://k8s.example:6443/', { namespace: 'a', name: 'b', subresource: 'portforward', port: 22 })).toBe(
      'wss://k8s.example:6443/apis/subresources.kubevmm.io/v1alpha1/namespaces/a/virtualmachines/b/portforward?port=22',
    );
    expect(streamUrl('https://rancher.example/k8s/clusters/c-1', { namespace: 'a', name: 'b', subresource: 'vnc' })).toBe(
      'wss://rancher.example/k8s/clusters/c-1/apis/subresources.kubevmm.io/v1alpha1/namespaces/a/virtualmachines/b/vnc',
    );
  });

  it("authenticates as the kubeconfig's user, offers the stream protocol, and carries bytes both ways", async () => {
    const { stream, headers } = await openStream(context(base), { name: 'echo', subresource: 'console' });
    expect(seen.at(-1)).toEqual({ authorization: 'Bearer secret-token', protocols: STREAM_PROTOCOL });
    expect(headers['kubevmm-console-mode']).toBe('read-only');
    const echoed = new Promise<string>((resolve) => stream.once('data', (c: Buffer) => resolve(c.toString())));
    stream.write(Buffer.from('ping'));
    expect(await echoed).toBe('ping');
    stream.destroy();
  });

  it('turns a refusal into a StreamRefusedError naming the fix', async () => {
    const opening = openStream(context(base), { name: 'denied', subresource: 'console' });
    await expect(opening).rejects.toBeInstanceOf(StreamRefusedError);
    await expect(opening).rejects.toThrow(/^you may not get virtualmachines\/console in subresources\.kubevmm\.io \(namespace "team-a"\).*kubevmm-vm-user.*user "bob" cannot get/);
  });

  it('leaves what a slow reader has not taken in the network, not in memory, and loses nothing', async () => {
    const { stream } = await openStream(context(base), { name: 'flood', subresource: 'vnc' });
    const chunks: Buffer[] = [];
    // A reader that takes the first chunk and then stops for a while.
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      if (chunks.length === 1) stream.pause();
    });
    await new Promise((r) => setTimeout(r, 300));
    // Without backpressure all 8 MiB would sit in the stream's buffer by now.
    expect(stream.readableLength).toBeLessThan(1024 * 1024);
    stream.resume();
    await new Promise((resolve) => stream.once('end', resolve));
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(128 * 64 * 1024);
    expect([all[0], all[64 * 1024], all.at(-1)]).toEqual([0, 1, 127]);
  });

  it('cuts a large write into messages of at most 256 KiB, which the subresource server takes', async () => {
    const { stream } = await openStream(context(base), { name: 'sizes', subresource: 'portforward', port: 22 });
    const data = Buffer.alloc(MAX_STREAM_MESSAGE_BYTES * 2 + 1000, 5);
    await new Promise<void>((resolve, reject) => stream.write(data, (err) => (err ? reject(err) : resolve())));
    stream.write(Buffer.alloc(10)); // queued writes join into one message, still cut to size
    for (let i = 0; i < 100 && sizes.reduce((a, b) => a + b, 0) < data.length + 10; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.length + 10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_STREAM_MESSAGE_BYTES);
    stream.destroy();
  });

  it('ends the stream on close 1000 and keeps the reason', async () => {
    const { stream } = await openStream(context(base), { name: 'end', subresource: 'console' });
    expect(await collect(stream)).toBe('bye');
    expect(stream.ended).toEqual({ code: 1000, reason: 'the VM stopped' });
  });

  it('fails the stream with the reason of close 1011', async () => {
    const { stream } = await openStream(context(base), { name: 'fail', subresource: 'console' });
    const failed = collect(stream);
    await expect(failed).rejects.toBeInstanceOf(StreamFailedError);
    await expect(failed).rejects.toThrow('the stream failed: the launcher went away');
  });

  it('refuses text messages', async () => {
    const { stream } = await openStream(context(base), { name: 'text', subresource: 'console' });
    await expect(collect(stream)).rejects.toThrow(`a text message arrived: ${STREAM_PROTOCOL} carries bytes in binary messages only`);
  });

  it('refuses a name that cannot be a VM before anything is sent', async () => {
    const before = seen.length;
    await expect(openStream(context(base), { name: '../../pods/x', subresource: 'console' })).rejects.toThrow(/^cannot open console of "\.\.\/\.\.\/pods\/x" in namespace "team-a": name: /);
    expect(seen.length).toBe(before);
  });

  it('says when the server does not speak the stream protocol, or cannot be reached', async () => {
    await expect(openStream(context(base), { name: 'noproto', subresource: 'vnc' })).rejects.toThrow(/did not accept the stream protocol v1\.stream\.kubevmm\.io/);
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const unreachable = openStream(context(`http://127.0.0.1:${closed}`), { name: 'echo', subresource: 'console' });
    await expect(unreachable).rejects.toBeInstanceOf(StreamConnectError);
    await expect(unreachable).rejects.toThrow(`cannot reach the API server http://127.0.0.1:${closed}: connect ECONNREFUSED`);
  });
});
