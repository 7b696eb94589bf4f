import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthMonitor, judgeProbe, ownershipWarning, probeDevice, type HealthState } from './health.js';

describe('judgeProbe', () => {
  it.each([
    [{ opened: true } as const, true, 'opens read-write'],
    [{ opened: false, code: 'ENOENT' } as const, false, 'does not exist on this node'],
    [{ opened: false, code: 'ENXIO' } as const, false, 'no driver answers (ENXIO)'],
    [{ opened: false, code: 'EACCES' } as const, false, 'EACCES'],
    [{ opened: false, code: 'EPERM', charDevice: true } as const, true, 'device cgroup'],
    [{ opened: false, code: 'EPERM', charDevice: false } as const, false, 'not a character device'],
    [{ opened: false, code: 'EIO' } as const, false, '(EIO)'],
  ])('%j -> healthy %s', (outcome, healthy, reason) => {
    const state = judgeProbe(outcome);
    expect(state.healthy).toBe(healthy);
    expect(state.reason).toContain(reason);
  });
});

describe('ownershipWarning', () => {
  it('warns about a healthy node that only its owner and group may open', () => {
    expect(ownershipWarning(judgeProbe({ opened: true, mode: 0o660 }))).toMatch(/^mode 0660 lets only its owner and group in: .*device_ownership_from_security_context = true/);
    expect(ownershipWarning(judgeProbe({ opened: false, code: 'EPERM', charDevice: true, mode: 0o600 }))).toMatch(/^mode 0600/);
    expect(ownershipWarning(judgeProbe({ opened: true, mode: 0o666 }))).toBeUndefined();
    expect(ownershipWarning(judgeProbe({ opened: false, code: 'ENOENT' }))).toBeUndefined();
  });
});

describe('probeDevice', () => {
  it('opens a real character device read-write, and reports a missing one', async () => {
    expect(await probeDevice('/dev/null')).toEqual({ opened: true, mode: 0o666 });
    expect(await probeDevice('/dev/kubevmm-no-such-device')).toEqual({ opened: false, code: 'ENOENT' });
  });
});

describe('HealthMonitor', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-health-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('reports the first state and then only changes', async () => {
    const node = join(dir, 'kvm');
    const seen: HealthState[] = [];
    let changed: () => void = () => undefined;
    const monitor = new HealthMonitor({
      path: node,
      intervalMs: 60_000,
      onChange: (s) => {
        seen.push(s);
        changed();
      },
    });
    const next = () => new Promise<void>((resolve) => (changed = resolve));
    expect(await monitor.start()).toMatchObject({ healthy: false });
    const healthy = next();
    await writeFile(node, '');
    await healthy;
    await monitor.check();
    await monitor.check();
    monitor.stop();
    expect(seen.map((s) => s.healthy)).toEqual([false, true]);
  });
});
