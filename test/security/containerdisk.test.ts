// A containerDisk path is user input that once went into `sh -c` in the copy init container:
// `path: "/disk; id > /dev/termination-log #"` ran `id`. Now the path is refused when the VM is
// validated; forced past validation into the rendered pod, the copy runs busybox `cp` with
// the path as one argument and no shell, so nothing in it is executed; and forced into the
// pod's resolved annotation, the launcher refuses to start. The copy and its failure run for
// real here, with the static busybox the launcher image ships.
import type { V1Container } from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_DIR, VM_ANNOTATION } from '../../api/layout.js';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { validateVm } from '../../api/validate.js';
import { formatIssue } from '../../api/issues.js';
import { main as launcherMain } from '../../launcher/main.js';
import { containerDiskImage } from '../../launcher/runtime/diskpaths.js';
import { renderLauncherPod } from '../../operator/render/pod.js';
import { CONSOLE_LOG_FILE, CONSOLE_SCRIPT, GUEST_CONSOLE_CONTAINER } from '../../operator/render/console-log.js';

const INJECTION = '/disk; id > /dev/termination-log #';
/** The copy delivery (an option of the operator) is where the path reaches a command line. */
const COPY_CONFIG = { ...DEFAULT_CONFIG, containerDiskDelivery: 'copy' as const };
const BUSYBOX = '/bin/busybox';

function vmWith(path: string): VirtualMachine {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web', namespace: 'team', uid: '2f6c9c1e-5a7d-4e8b-9c0d-1e2f3a4b5c6d' },
    spec: { memory: { guest: '256Mi' }, disks: [{ name: 'os', containerDisk: { image: 'registry.example/os:1', path } }] },
  };
}

/** The copy init container's argv, with the pod's paths moved under `root`, run for real. */
function runCopy(path: string, root: string): { status: number | null; stderr: string } {
  const pod = renderLauncherPod({ vm: vmWith(path), config: COPY_CONFIG });
  const copy = pod.spec!.initContainers!.find((c) => c.name === 'containerdisk-os')!;
  expect(copy.args).toBeUndefined();
  const argv = copy.command!.map((arg) => (arg === `${RUN_DIR}/tools/busybox` ? BUSYBOX : arg.startsWith(`${RUN_DIR}/`) ? join(root, arg) : arg));
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: root });
  return { status: r.status, stderr: r.stderr };
}

let work: string;

beforeAll(async () => {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: run scripts/install-deps.sh (Debian busybox-static)`);
  work = await mkdtemp(join(tmpdir(), 'kubevmm-containerdisk-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('containerDisk.path', () => {
  it('the injection is refused at validation, naming the field', () => {
    const result = validateVm(vmWith(INJECTION));
    expect(result.value).toBeUndefined();
    expect(result.issues.map(formatIssue)).toEqual([expect.stringMatching(/spec\.disks\[0\]\.containerDisk\.path: must be an absolute path of letters, digits/)]);
  });

  it('forced into the rendered pod, it is one argument of cp and runs no command', async () => {
    const root = await mkdtemp(join(work, 'forced-'));
    await mkdir(join(root, 'var/run/kubevmm/disks/os'), { recursive: true });
    const sentinel = join(root, 'pwned');
    const pod = renderLauncherPod({ vm: vmWith(INJECTION), config: COPY_CONFIG });
    expect(pod.metadata?.annotations?.[VM_ANNOTATION]).toContain(INJECTION);
    // Delivered as an image volume (the default), the path is on no command line at all.
    const mounted = renderLauncherPod({ vm: vmWith(INJECTION), config: DEFAULT_CONFIG }).spec!;
    expect(JSON.stringify([...(mounted.initContainers ?? []), ...mounted.containers].map((c) => [c.command, c.args]))).not.toContain('/disk;');
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    const argv = (c: V1Container) => [...(c.command ?? []), ...(c.args ?? [])];
    const isShell = (c: V1Container) => argv(c).some((a) => /(^|\/)sh$/.test(a) || a === '-c');
    // Only the copy carries the path on its command line, and it runs no shell.
    const carrying = containers.filter((c) => argv(c).some((a) => a.includes(INJECTION)));
    expect(carrying.map((c) => [c.name, isShell(c)])).toEqual([['containerdisk-os', false]]);
    // The pod's one shell, the guest-console sidecar's trap, runs a fixed script on a fixed file.
    expect(containers.filter(isShell).map((c) => [c.name, c.command])).toEqual([[GUEST_CONSOLE_CONTAINER, ['/bin/sh', '-c', CONSOLE_SCRIPT, CONSOLE_LOG_FILE]]]);

    const hadLog = existsSync('/dev/termination-log');
    for (const path of [INJECTION, `/disk; touch ${sentinel} #`, `$(touch ${sentinel})`, `\`touch ${sentinel}\``]) {
      const r = runCopy(path, root);
      expect({ path, status: r.status }).toEqual({ path, status: 1 });
      expect(r.stderr).toContain(path); // cp names the file it could not find: the whole string
    }
    expect(existsSync(sentinel)).toBe(false);
    expect(existsSync('/dev/termination-log')).toBe(hadLog);
  });

  it('copies a real containerDisk without a shell, and the launcher finds its one image', async () => {
    const root = await mkdtemp(join(work, 'copy-'));
    const source = join(root, 'image-disk');
    await mkdir(source);
    await writeFile(join(source, 'fedora.qcow2'), 'QFI\xfbfake');
    await mkdir(join(root, 'var/run/kubevmm/disks/os'), { recursive: true });
    expect(runCopy(source, root)).toMatchObject({ status: 0 });
    const copy = join(root, 'var/run/kubevmm/disks/os/containerdisk');
    const image = await containerDiskImage('os', copy);
    expect(image).toBe(join(copy, 'fedora.qcow2'));
    expect(await readFile(image, 'utf8')).toBe('QFI\xfbfake');
  });

  it('forced into the resolved annotation, the launcher refuses to start and says why', async () => {
    const pod = renderLauncherPod({ vm: vmWith('/disk'), config: DEFAULT_CONFIG });
    const annotation = JSON.parse(pod.metadata!.annotations![VM_ANNOTATION]!) as { disks: { spec: { containerDisk: { path: string } } }[] };
    annotation.disks[0]!.spec.containerDisk.path = INJECTION; // a pod edited after the operator made it
    const dir = await mkdtemp(join(work, 'annotation-'));
    const vmFile = join(dir, 'vm.json');
    const log = join(dir, 'termination-log');
    await writeFile(vmFile, JSON.stringify(annotation));
    expect(await launcherMain(['run', '--vm', vmFile, '--runtime-dir', dir, '--termination-log', log])).toBe(1);
    expect(await readFile(log, 'utf8')).toMatch(/^InvalidVmFile: .*disks\.0\.spec\.containerDisk\.path: must be an absolute path/);
  });
});
