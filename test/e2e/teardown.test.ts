// Runs last (helpers/sequencer.mjs): `npm run e2e:down` removes everything `up` made, and a
// second `up` after it works. Nothing of the node may stay on this machine.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { E2E_UP_TIMEOUT_MS, kubectl, useE2eCluster } from './helpers/cluster.js';

const STATE = process.env.KUBEVMM_E2E_DIR ?? join(process.env.KUBEVMM_CACHE ?? join(homedir(), '.cache', 'kubevmm'), 'e2e-state');

/** Paths at fixed places the node creates, and whether each existed before the node came up. */
function hostState(): Record<string, boolean> {
  const text = readFileSync(join(STATE, 'node', 'host-state'), 'utf8');
  return Object.fromEntries(text.trim().split('\n').map((line) => line.split('=') as [string, string]).map(([k, v]) => [k, v === '1']));
}

const sh = (cmd: string) => spawnSync('bash', ['-c', cmd], { encoding: 'utf8' }).stdout;

/** Everything of the node still on the machine, as readable lines; empty when clean. */
function leftovers(before: Record<string, boolean>): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // gone meanwhile
    }
    if (cmd.includes(STATE) || cmd.includes('e2e-state')) out.push(`process ${pid}: ${cmd.slice(0, 120)}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mount = line.split(' ')[4];
    if (mount?.startsWith(STATE) || (mount === '/run/netns' && !before.run_netns_mounted)) out.push(`mount ${mount}`);
  }
  if (existsSync('/run/netns/kubevmm-node')) out.push('netns kubevmm-node');
  if (sh('ip -o link show').match(/kvmm-node0|cni0/)) out.push('link kvmm-node0 or cni0');
  if (sh('ip route show').includes('10.88.0.0/16')) out.push('route to the pod network');
  for (const line of sh('losetup -nO NAME,BACK-FILE').split('\n')) if (line.includes(STATE)) out.push(`loop ${line}`);
  for (const dir of readdirSync('/sys/fs/cgroup')) if (existsSync(`/sys/fs/cgroup/${dir}/kubepods`)) out.push(`cgroup ${dir}/kubepods`);
  const fixed: [string, string][] = [['var_lib_kubelet', '/var/lib/kubelet'], ['var_log_containers', '/var/log/containers'], ['var_lib_cni', '/var/lib/cni'], ['run_containerd', '/run/containerd']];
  for (const [key, path] of fixed) if (!before[key] && existsSync(path)) out.push(`path ${path}`);
  if (existsSync('/var/log/containers')) {
    for (const link of readdirSync('/var/log/containers')) if (readlinkSync(join('/var/log/containers', link)).startsWith(STATE)) out.push(`log link ${link}`);
  }
  if (existsSync(STATE)) out.push(`state directory ${STATE}`);
  return out;
}

function down(): void {
  const r = spawnSync('npm', ['run', '-s', 'e2e:down'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
}

it('e2e:down leaves no process, mount, namespace, link, loop device, cgroup or state; a second up works', () => {
  useE2eCluster(); // the cluster the other suites used (or a fresh one when run alone)
  const before = hostState();
  down();
  expect(leftovers(before)).toEqual([]);

  useE2eCluster();
  expect(kubectl(['get', 'node', 'node-real', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).stdout).toBe('True');
  kubectl(['-n', 'kubevmm-system', 'rollout', 'status', 'deployment/kubevmm', '--timeout=120s']);
  down();
  expect(leftovers(before)).toEqual([]);
}, E2E_UP_TIMEOUT_MS);
