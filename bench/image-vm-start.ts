/**
 * A VM whose disk is made from an image, through a real node (the end-to-end cluster of
 * test/e2e), against what it should cost, measured in the same run, rounds interleaved:
 * - image VM: create a VM with an `image:` disk (the image already Ready) -> Running, which
 *   includes the operator copying the image's claim into the VM's own claim;
 * - PVC VM: create a VM on an existing claim holding the same guest -> Running;
 * - copy: a pod that copies the image's claim into a fresh claim with `qemu-img convert`
 *   (the launcher image's), create -> Succeeded: a plain copy, as a user would make one.
 * Goal (issue 15): image VM <= 1.2 x (PVC VM + copy). Prints figures; asserts nothing.
 *
 *   npm run bench:image-vm -- [--rounds N]      (default 5; needs `npm run e2e:up`)
 */
import { spawn } from 'node:child_process';
import { createNamespace, e2eImageRef, e2eScript, useE2eCluster } from '../harness/e2e-cluster.js';
import { buildGuest } from '../harness/guest.js';
import { machineLine } from './lib/env.js';
import { percentile } from './lib/operator-scale-report.js';
import { getJson, kubectl, poll } from './lib/real-node-cluster.js';
import { formatTable, intFlag } from './lib/stats.js';

const NS = `bench-imgvm-${process.pid}`;
const GOAL = 1.2;
const IMAGE = 'guest';

type Json = Record<string, any>;

function apply(object: Json): void {
  kubectl(['apply', '-f', '-'], JSON.stringify(object));
}

function claim(name: string, extra: Json = {}): Json {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } }, ...extra } };
}

/** A claim on a static local PV holding the guest as disk.img (e2e.sh pv). */
function guestClaim(name: string, guest: string): void {
  const pv = e2eScript(['pv', `${NS}-${name}`, '64Mi', guest], `creating PV ${NS}-${name}`).trim();
  apply(claim(name, { storageClassName: 'local', volumeName: pv }));
}

/** The guest ignores ACPI: a short grace period ends each round's VM in seconds, not the default minute. */
function vm(name: string, disk: Json): Json {
  return { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec: { cpu: { cores: 1 }, memory: { guest: '128Mi' }, devices: { graphics: 'none' }, disks: [{ name: 'root', ...disk }], terminationGracePeriodSeconds: 2 } };
}

/** When the object being measured was created: `--trace` stamps its lines from there. */
let zero = Date.now();

/** create -> Running of a VM, then deleted (its image disk's claim goes with it). */
async function vmRound(name: string, disk: Json): Promise<number> {
  const t0 = (zero = Date.now());
  apply(vm(name, disk));
  const running = await poll(`VM ${name} Running`, () => getJson(['-n', NS, 'virtualmachine', name])?.status?.printableStatus === 'Running', 600_000, 100);
  kubectl(['-n', NS, 'delete', 'virtualmachine', name, '--wait=true', '--timeout=180s']);
  return running.at - t0;
}

/** create -> Succeeded of a pod copying the image's claim into a fresh claim with qemu-img, as a copy pod does. */
async function copyRound(i: number, launcher: string): Promise<number> {
  const target = `copy-${i}`;
  apply(claim(target));
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: target, namespace: NS },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsUser: 107, runAsGroup: 107, fsGroup: 107, runAsNonRoot: true },
      containers: [{ name: 'copy', image: launcher, command: ['qemu-img', 'convert', '-f', 'raw', '-O', 'raw', '-S', '4k', '/source/disk.img', '/target/disk.img'], volumeMounts: [{ name: 'source', mountPath: '/source', readOnly: true }, { name: 'target', mountPath: '/target' }] }],
      volumes: [{ name: 'source', persistentVolumeClaim: { claimName: `${IMAGE}-image`, readOnly: true } }, { name: 'target', persistentVolumeClaim: { claimName: target } }],
    },
  };
  const t0 = (zero = Date.now());
  apply(pod);
  const done = await poll(`copy pod ${target}`, () => {
    const phase = getJson(['-n', NS, 'pod', target])?.status?.phase as string | undefined;
    if (phase === 'Failed') throw new Error(`copy pod ${target} failed: ${kubectl(['-n', NS, 'logs', target])}`);
    return phase === 'Succeeded';
  }, 600_000, 100);
  kubectl(['-n', NS, 'delete', 'pod', target, '--wait=true']);
  kubectl(['-n', NS, 'delete', 'pvc', target, '--wait=false']);
  return done.at - t0;
}

const s = (ms: number) => (ms / 1000).toFixed(2);

/**
 * `--trace`: every change of the namespace's VMs and claims, stamped in seconds from the
 * creation of the VM or pod being measured (kubectl watches; the lines go to stderr), to take
 * the image VM's time apart. The claim of a VM's image disk is marked populated when its copy
 * pod succeeded, so the claims show the copy's end.
 */
function trace(): () => void {
  const views: Record<string, string> = {
    virtualmachines: '{.status.printableStatus}{"\\n"}',
    persistentvolumeclaims: '{.status.phase}{"\\n"}',
  };
  const children = Object.entries(views).map(([kind, template]) => {
    const child = spawn('kubectl', ['-n', NS, 'get', kind, '--watch', '--output-watch-events', '-o', `jsonpath={.type} ${kind} {.object.metadata.name} ${template.replace(/\.(metadata|status)/g, '.object.$1')}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      for (const line of text.split('\n').filter(Boolean)) console.error(`${s(Date.now() - zero).padStart(8)} ${line}`);
    });
    return child;
  });
  return () => children.forEach((child) => child.kill());
}

function report(rounds: { image: number; pvc: number; copy: number }[]): string {
  const p50 = (k: 'image' | 'pvc' | 'copy') => percentile(rounds.map((r) => r[k]), 50);
  const p95 = (k: 'image' | 'pvc' | 'copy') => percentile(rounds.map((r) => r[k]), 95);
  const baseline = p50('pvc') + p50('copy');
  const ratio = p50('image') / baseline;
  return [
    formatTable(['s, over ' + rounds.length + ' rounds', 'p50', 'p95'], [
      ['VM with an image disk (image Ready): create -> Running', s(p50('image')), s(p95('image'))],
      ['VM on an existing claim: create -> Running', s(p50('pvc')), s(p95('pvc'))],
      ['copy pod (qemu-img convert) of the image claim: create -> Succeeded', s(p50('copy')), s(p95('copy'))],
    ]),
    '',
    `image VM / (PVC VM + copy) at p50: ${s(p50('image'))} s / ${s(baseline)} s = ${ratio.toFixed(2)} (goal <= ${GOAL}): ${ratio <= GOAL ? 'met' : 'NOT met'}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const n = intFlag(process.argv.slice(2), 'rounds', 5);
  useE2eCluster();
  const launcher = e2eImageRef('launcher');
  const guest = await buildGuest();
  console.log(`image-vm-start: ${await machineLine()}`);
  createNamespace(NS);
  try {
    guestClaim('base', guest);
    guestClaim('seed', guest);
    apply({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name: IMAGE, namespace: NS }, spec: { source: { pvc: { name: 'seed' } } } });
    await poll('the image Ready', () => {
      const status = getJson(['-n', NS, 'virtualmachineimage', IMAGE])?.status;
      if (status?.phase === 'Failed') throw new Error(`the image failed: ${JSON.stringify(status.conditions)}`);
      return status?.phase === 'Ready';
    }, 600_000, 500);
    // One unmeasured start of each kind: images pulled, caches warm.
    await vmRound('warm-pvc', { persistentVolumeClaim: { claimName: 'base' } });
    await copyRound(0, launcher);
    const rounds: { image: number; pvc: number; copy: number }[] = [];
    const stopTrace = process.argv.includes('--trace') ? trace() : undefined;
    if (stopTrace) await new Promise((r) => setTimeout(r, 3000));
    for (let i = 1; i <= n; i++) {
      const image = await vmRound(`image-${i}`, { image: { name: IMAGE } });
      const pvc = await vmRound(`pvc-${i}`, { persistentVolumeClaim: { claimName: 'base' } });
      const copy = await copyRound(i, launcher);
      rounds.push({ image, pvc, copy });
      console.error(`round ${i}/${n}: image VM ${s(image)} s, PVC VM ${s(pvc)} s, copy ${s(copy)} s`);
    }
    stopTrace?.();
    console.log(`\n${report(rounds)}\n`);
  } finally {
    kubectl(['delete', 'namespace', NS, '--wait=false']);
  }
}

await main();
