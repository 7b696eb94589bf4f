// Disk images on the real node (issue 15): a VirtualMachineImage imported over HTTP from a
// server pod inside the cluster (qcow2, qcow2.xz and a VMDK made with qemu-img), VMs created
// from it on disks of their own, imports that fail for a named reason, and an upload with the
// CLI that is cut and resumed.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuest } from '../../harness/guest.js';
import { e2eImageRef } from '../../harness/e2e-cluster.js';
import { useKubevmm, dropKubevmm, kubevmm, kubevmmBackground } from './helpers/cli.js';
import { E2E_UP_TIMEOUT_MS, getJson, guestDiskRoot, kubectl, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { apply, condition, runInGuest, vmManifest, waitForConsole, waitForVm } from './helpers/vm.js';

const IMPORT_MS = 240_000;
let ns: { name: string; drop: () => void };
let work: string;

interface Served {
  file: string;
  path: string;
  sha256: string;
}
const served: Record<string, Served> = {};

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * A CGI script of busybox httpd that serves /srv/<QUERY_STRING> one MiB every 0.2 s, so that an
 * import of a few MiB takes seconds and its progress can be seen rising.
 */
const SLOW_CGI = [
  '#!/bin/busybox sh',
  // CGI headers end in CR LF: busybox httpd passes them on as they are, and HTTP wants CR LF.
  'f=/srv/$QUERY_STRING',
  "case \"$QUERY_STRING\" in */*|'') printf 'Status: 404 Not Found\\r\\n\\r\\n'; exit 0;; esac",
  "[ -f \"$f\" ] || { printf 'Status: 404 Not Found\\r\\n\\r\\n'; exit 0; }",
  'size=$(/bin/busybox wc -c < "$f")',
  "printf 'Content-Type: application/octet-stream\\r\\nContent-Length: %s\\r\\n\\r\\n' \"$size\"",
  'i=0',
  'while [ $((i * 1048576)) -lt "$size" ]; do /bin/busybox dd if="$f" bs=1048576 skip=$i count=1 2>/dev/null; i=$((i + 1)); /bin/busybox sleep 0.2; done',
].join('\n');

/**
 * The node's view of this machine (the API server's address in the kubeconfig): pods reach it,
 * and only it, outside the cluster. The files are handed to the server pod from here.
 */
function hostAddress(): string {
  const server = kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']).stdout;
  return new URL(server).hostname;
}

/** Serves `work`'s files to the server pod once, from this machine's address on the node's network. */
async function handOver(): Promise<{ base: string; close: () => void }> {
  const server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(name) || !served[name]) return void res.writeHead(404).end();
    createReadStream(join(work, name)).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, hostAddress(), resolve));
  const { address, port } = server.address() as AddressInfo;
  return { base: `http://${address}:${port}`, close: () => server.close() };
}

/** The HTTP server pod (busybox httpd from the harness's volume-helper image) and its Service `images`, holding every file of `served`. */
async function startServer(): Promise<void> {
  const busybox = e2eImageRef('volume-helper');
  const from = await handOver();
  try {
    const fetch = Object.keys(served).map((f) => `/bin/busybox wget -q -O /srv/${f} ${from.base}/${f}`).join(' && ');
    const script = `/bin/busybox mkdir -p /srv/cgi-bin && printf '%s\\n' "$0" > /srv/cgi-bin/slow && /bin/busybox chmod 0755 /srv/cgi-bin/slow && ${fetch} && exec /bin/busybox httpd -f -v -p 8080 -h /srv`;
    apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'images', namespace: ns.name, labels: { app: 'images' } },
      spec: {
        containers: [{ name: 'httpd', image: busybox, command: ['/bin/busybox', 'sh', '-c', script, SLOW_CGI], ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }, volumeMounts: [{ name: 'srv', mountPath: '/srv' }] }],
        volumes: [{ name: 'srv', emptyDir: {} }],
        terminationGracePeriodSeconds: 0,
      },
    });
    apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'images', namespace: ns.name }, spec: { selector: { app: 'images' }, ports: [{ port: 8080 }] } });
    await waitFor('the image server pod', () => getJson(['-n', ns.name, 'pod', 'images'])?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'), 180_000);
  } finally {
    from.close();
  }
  // What the pod serves is what was built here.
  for (const f of Object.values(served)) {
    const size = kubectl(['-n', ns.name, 'exec', 'images', '--', '/bin/busybox', 'wc', '-c', `/srv/${f.file}`]).stdout.trim().split(/\s+/)[0];
    expect(Number(size)).toBe((await stat(f.path)).size);
  }
}

const url = (file: string, slow = true) => (slow ? `http://images.${ns.name}.svc:8080/cgi-bin/slow?${file}` : `http://images.${ns.name}.svc:8080/${file}`);

function imageManifest(name: string, source: Record<string, unknown>, storage: Record<string, unknown> = { size: '64Mi' }): Record<string, unknown> {
  return { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name, namespace: ns.name }, spec: { source, storage } };
}

function getImage(name: string): Record<string, any> | undefined {
  return getJson(['-n', ns.name, 'virtualmachineimage', name]);
}

/** Waits for `phase`, recording every progress value seen on the way. */
async function waitForImage(name: string, phase: 'Ready' | 'Failed', ms = IMPORT_MS): Promise<{ image: Record<string, any>; progress: string[] }> {
  const progress: string[] = [];
  const ended = await waitFor(
    `image ${name} ${phase}`,
    () => {
      const got = getImage(name);
      const p = got?.status?.progress as string | undefined;
      if (p && progress[progress.length - 1] !== p) progress.push(p);
      return got?.status?.phase === 'Ready' || got?.status?.phase === 'Failed' ? got : undefined;
    },
    ms,
  );
  if (ended.status.phase !== phase) throw new Error(`image ${name} ended ${ended.status.phase}, not ${phase}: ${JSON.stringify(ended.status.conditions)}`);
  return { image: ended, progress };
}

const percent = (p: string) => Number(p.replace('%', ''));

/** Pods owned by the image (importers), by UID. */
function podsOf(kind: string, uid: string): string[] {
  return ((getJson(['-n', ns.name, 'pods'])?.items ?? []) as { metadata: { name: string; ownerReferences?: { kind: string; uid: string }[] } }[])
    .filter((p) => p.metadata.ownerReferences?.some((o) => o.kind === kind && o.uid === uid))
    .map((p) => p.metadata.name);
}

beforeAll(async () => {
  useE2eCluster();
  await useKubevmm();
  ns = testNamespace('e2e-images');
  work = await mkdtemp(join(tmpdir(), 'kubevmm-e2e-images-'));
  const guest = await buildGuest();
  const qcow2 = join(work, 'guest.qcow2');
  execFileSync('qemu-img', ['convert', '-O', 'qcow2', guest, qcow2]);
  execFileSync('xz', ['-k', '-T1', '-0', qcow2]);
  execFileSync('qemu-img', ['convert', '-O', 'vmdk', guest, join(work, 'guest.vmdk')]);
  await writeFile(join(work, 'notes.txt'), 'this is a text file, not a disk image\n'.repeat(2000));
  // For the upload: the guest in a 640 MiB qcow2 with all its clusters allocated, big enough
  // that a run can be cut part-way.
  const big = join(work, 'big.raw');
  execFileSync('cp', ['--sparse=always', guest, big]);
  execFileSync('qemu-img', ['resize', '-q', '-f', 'raw', big, '640M']);
  execFileSync('qemu-img', ['convert', '-O', 'qcow2', '-o', 'preallocation=full', big, join(work, 'upload.qcow2')]);
  for (const file of ['guest.qcow2', 'guest.qcow2.xz', 'guest.vmdk', 'notes.txt']) served[file] = { file, path: join(work, file), sha256: await sha256(join(work, file)) };
  await startServer();
}, E2E_UP_TIMEOUT_MS);

afterAll(async () => {
  ns?.drop();
  await dropKubevmm();
  if (work) await rm(work, { recursive: true, force: true });
});

describe.each([
  ['qcow2', 'guest.qcow2'],
  ['qcow2.xz', 'guest.qcow2.xz'],
  ['vmdk', 'guest.vmdk'],
])('an HTTP import of the guest as %s', (format, file) => {
  const name = `guest-${format.replace('.', '-')}`;

  it('reaches Ready with its progress rising, the checksum verified, and a VM from it boots', async () => {
    apply(imageManifest(name, { http: { url: url(file), sha256: served[file]!.sha256 } }));
    const { image, progress } = await waitForImage(name, 'Ready');
    expect(image.status).toMatchObject({ phase: 'Ready', checksumVerified: true, claimName: `${name}-image`, progress: '100%' });
    expect(image.status.format).toBe(format.startsWith('qcow2') ? 'qcow2' : 'vmdk');
    // Seen on the way: at least one value between the start and the end, and never going down.
    expect(progress.some((p) => percent(p) > 0 && percent(p) < 100)).toBe(true);
    expect(progress.map(percent)).toEqual([...progress.map(percent)].sort((a, b) => a - b));
    expect(podsOf('VirtualMachineImage', image.metadata.uid)).toEqual([]); // the importer is gone once Ready

    const vm = `from-${name}`;
    apply(vmManifest(ns.name, vm, { disks: [{ name: 'root', image: { name } }] }));
    await waitForVm(ns.name, vm, 'Running', { ms: IMPORT_MS });
    await waitForConsole(ns.name, vm, /KUBEVMM-GUEST booted/);
  });
});

/** Range answers (206) the server pod has logged so far: busybox httpd -v logs each response's status. */
function rangeAnswers(): number {
  return kubectl(['-n', ns.name, 'logs', 'images', '-c', 'httpd']).stdout.split('\n').filter((l) => l.includes('response:206')).length;
}

it('streams an uncompressed qcow2 from a server that answers range requests: read in ranges, checksum verified, Ready, and a VM from it boots', async () => {
  const before = rangeAnswers();
  apply(imageManifest('streamed', { http: { url: url('guest.qcow2', false), sha256: served['guest.qcow2']!.sha256 } }));
  const { image } = await waitForImage('streamed', 'Ready');
  expect(image.status).toMatchObject({ phase: 'Ready', checksumVerified: true, format: 'qcow2', progress: '100%' });
  // The probe for the head, then qemu-img's reads through nbdkit, one range each; a download first would be one 200.
  expect(rangeAnswers() - before).toBeGreaterThan(2);
  apply(vmManifest(ns.name, 'from-streamed', { disks: [{ name: 'root', image: { name: 'streamed' } }] }));
  await waitForConsole(ns.name, 'from-streamed', /KUBEVMM-GUEST booted/, IMPORT_MS);
  kubectl(['-n', ns.name, 'delete', 'virtualmachine', 'from-streamed', '--wait=true']);
});

it('gives two VMs from one image disks of their own', async () => {
  const marker = (n: number) => `[ "$(dd if=/dev/vda bs=512 skip=$(( $(cat /sys/block/vda/size) - 8 )) count=1 2>/dev/null | head -c 14)" = KUBEVMM-MARK-A ] && echo SEEN-$((${n}+1)) || echo UNSEEN-$((${n}+1))`;
  apply(vmManifest(ns.name, 'twin-a', { disks: [{ name: 'root', image: { name: 'guest-qcow2' } }] }));
  apply(vmManifest(ns.name, 'twin-b', { disks: [{ name: 'root', image: { name: 'guest-qcow2' } }] }));
  // Typing starts once the guest offers its shell: what is typed while its init still runs can be lost.
  await Promise.all(['twin-a', 'twin-b'].map((vm) => waitForConsole(ns.name, vm, /Press Enter for a shell/, IMPORT_MS)));
  await runInGuest(ns.name, 'twin-a', 'printf KUBEVMM-MARK-A | dd of=/dev/vda bs=512 seek=$(( $(cat /sys/block/vda/size) - 8 )) conv=notrunc,fsync 2>/dev/null');
  await runInGuest(ns.name, 'twin-a', marker(100));
  await waitForConsole(ns.name, 'twin-a', /SEEN-101/);
  await runInGuest(ns.name, 'twin-b', marker(200));
  await waitForConsole(ns.name, 'twin-b', /UNSEEN-201/);
  const owners = ['twin-a', 'twin-b'].map((vm) => getJson(['-n', ns.name, 'pvc', `${vm}-root`])?.metadata?.ownerReferences?.[0]?.name);
  expect(owners).toEqual(['twin-a', 'twin-b']);
});

describe('imports that cannot succeed end Failed with the cause named, and leave no importer behind', () => {
  it.each([
    ['a missing file (404)', 'missing', () => ({ http: { url: url('no-such-file.qcow2', false) } }), /NotFound|404/],
    ['a wrong checksum', 'badsum', () => ({ http: { url: url('guest.qcow2', false), sha256: '0'.repeat(64) } }), /ChecksumMismatch/],
    ['a file that is not a disk image', 'notimage', () => ({ http: { url: url('notes.txt', false) } }), /NotADiskImage/],
  ])('%s', async (_what, name, source, reason) => {
    apply(imageManifest(name, source()));
    const { image } = await waitForImage(name, 'Failed');
    const failure = condition(image as never, 'Failure');
    expect(failure?.status).toBe('True');
    expect(`${failure?.reason}: ${failure?.message}`).toMatch(reason);
    await waitFor(`no importer of ${name}`, () => podsOf('VirtualMachineImage', image.metadata.uid).length === 0, 60_000);
  });

  it('an image larger than its claim', async () => {
    apply(imageManifest('toosmall', { http: { url: url('guest.qcow2', false) } }, { size: '8Mi' }));
    const { image } = await waitForImage('toosmall', 'Failed');
    expect(condition(image as never, 'Failure')).toMatchObject({ status: 'True', reason: 'ClaimTooSmall' });
  });

  it('deleting an image while it imports leaves no pod behind', async () => {
    apply(imageManifest('deleted', { http: { url: url('guest.qcow2') } }));
    const uid = (await waitFor('the import to start', () => (getImage('deleted')?.status?.phase === 'Importing' ? getImage('deleted') : undefined), IMPORT_MS)).metadata.uid as string;
    kubectl(['-n', ns.name, 'delete', 'virtualmachineimage', 'deleted', '--wait=true', '--timeout=120s']);
    await waitFor('no importer pod of the deleted image', () => podsOf('VirtualMachineImage', uid).length === 0, 120_000);
  });
});

it('converges without a second importer when the operator restarts in the middle of an import', async () => {
  apply(imageManifest('restarted', { http: { url: url('guest.qcow2'), sha256: served['guest.qcow2']!.sha256 } }));
  const uid = (await waitFor('the import to start', () => (podsOf('VirtualMachineImage', getImage('restarted')?.metadata?.uid ?? '-').length ? getImage('restarted') : undefined), IMPORT_MS)).metadata.uid as string;
  const seen = new Set(podsOf('VirtualMachineImage', uid));
  kubectl(['-n', 'kubevmm-system', 'delete', 'pods', '-l', 'app.kubernetes.io/component=operator', '--wait=false']);
  await waitFor(
    'the image Ready after the operator restart',
    () => {
      for (const pod of podsOf('VirtualMachineImage', uid)) seen.add(pod);
      return getImage('restarted')?.status?.phase === 'Ready';
    },
    IMPORT_MS,
  );
  expect(seen.size).toBe(1);
  // The new operator serves the webhook again before the next test applies anything.
  kubectl(['-n', 'kubevmm-system', 'rollout', 'status', 'deployment/kubevmm', '--timeout=180s']);
});

it('imports the disk of a containerDisk image already on the node (registry source)', async () => {
  apply(imageManifest('from-registry', { registry: { image: guestDiskRoot().containerDisk.image } }));
  const { image } = await waitForImage('from-registry', 'Ready');
  expect(image.status.format).toBe('raw');
});

it('uploads with the CLI, resumes a cut upload, and a VM boots from it', async () => {
  const file = join(work, 'upload.qcow2');
  const bytes = (await stat(file)).size;
  // The first run is killed once the importer holds part of the file.
  const first = kubevmmBackground(['image', 'upload', 'uploaded', '-n', ns.name, '--file', file, '--create', '--size', '1Gi']);
  const held = () => Number(/(\d+)%/.exec(getImage('uploaded')?.status?.progress ?? '')?.[1] ?? 0);
  await waitFor('part of the upload to arrive', () => (held() > 0 || /\b[1-9]\d*(\.\d+)? ?MiB\b/.test(first.output()) ? true : undefined), 180_000);
  first.kill('SIGKILL');
  expect(getImage('uploaded')?.status?.phase).not.toBe('Ready');
  const second = kubevmm(['image', 'upload', 'uploaded', '-n', ns.name, '--file', file]);
  expect({ status: second.status, out: second.stdout }).toMatchObject({ status: 0, out: expect.stringContaining(`uploaded (${bytes} bytes)`) });
  const { image } = await waitForImage('uploaded', 'Ready');
  expect(image.status.format).toBe('qcow2');
  apply(vmManifest(ns.name, 'from-upload', { disks: [{ name: 'root', image: { name: 'uploaded' } }] }));
  await waitForConsole(ns.name, 'from-upload', /KUBEVMM-GUEST booted/, IMPORT_MS);
});
