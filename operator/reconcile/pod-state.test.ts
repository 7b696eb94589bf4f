import type { V1Pod } from '@kubernetes/client-node';
import { LAUNCHER_START_WINDOW_MS, launcherStarting } from './pod-state.js';

const now = new Date('2026-12-06T04:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

function pod(opts: { phase?: string; ready?: boolean; startedAt?: Date; deleting?: boolean; created?: Date; ip?: boolean }): V1Pod {
  return {
    metadata: { name: 'vm-launcher', creationTimestamp: opts.created ?? ago(60_000), ...(opts.deleting ? { deletionTimestamp: now } : {}) },
    status: {
      phase: opts.phase ?? 'Running',
      ...(opts.ip === false ? {} : { podIP: '10.88.0.9' }),
      conditions: [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }],
      containerStatuses: [{ name: 'launcher', image: 'l', imageID: '', ready: !!opts.ready, restartCount: 0, state: opts.startedAt ? { running: { startedAt: opts.startedAt } } : { waiting: { reason: 'PodInitializing' } } }],
    },
  };
}

describe('launcherStarting', () => {
  it('is true for a launcher container that started moments ago in a pod not Ready yet', () => {
    expect(launcherStarting(pod({ startedAt: ago(300) }), now)).toBe(true);
    // The kubelet's whole seconds can put the start a little after the operator's now.
    expect(launcherStarting(pod({ startedAt: ago(-500) }), now)).toBe(true);
  });

  it('is true for a young pod whose sandbox has an IP, before the kubelet reports the launcher running', () => {
    expect(launcherStarting(pod({ phase: 'Pending', created: ago(800) }), now)).toBe(true);
    expect(launcherStarting(pod({ phase: 'Pending', created: ago(800), ip: false }), now)).toBe(false);
  });

  it('is false once Ready, after the window, for an old pending pod, or while deleting', () => {
    expect(launcherStarting(pod({ startedAt: ago(300), ready: true }), now)).toBe(false);
    expect(launcherStarting(pod({ startedAt: ago(LAUNCHER_START_WINDOW_MS + 1) }), now)).toBe(false);
    expect(launcherStarting(pod({ phase: 'Pending' }), now)).toBe(false);
    expect(launcherStarting(pod({ phase: 'Failed', startedAt: ago(300) }), now)).toBe(false);
    expect(launcherStarting(pod({ startedAt: ago(300), deleting: true }), now)).toBe(false);
    expect(launcherStarting(undefined, now)).toBe(false);
  });
});
