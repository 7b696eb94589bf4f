// Leader election against the real control plane's Lease API: one leader of two, and
// failover after a crash (lease not released) and after a clean stop (released).

import { CoordinationV1Api } from '@kubernetes/client-node';
import { runLeaderElection, type LeaderElection } from '../../operator/kube/leader.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';
import { eventually } from '../fakes/http-api.js';

const NS = `leader-${process.pid}`;
/** Short durations: whole seconds for the lease, as the API stores it. */
const TIMING = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };

let cp: ControlPlane;
let leases: CoordinationV1Api;
let elections: LeaderElection[] = [];

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('create', 'namespace', NS);
  leases = cp.kc.makeApiClient(CoordinationV1Api);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await cp?.kubectl('delete', 'namespace', NS, '--wait=false').catch(() => undefined);
  await cp?.release();
}, 5 * 60_000);

afterEach(async () => {
  for (const e of elections) await e.stop({ release: false });
  elections = [];
});

interface Candidate {
  identity: string;
  election: LeaderElection;
  startedAt?: number;
  stoppedLeading: number;
  errors: unknown[];
}

function candidate(lease: string, identity: string): Candidate {
  const c: Candidate = { identity, stoppedLeading: 0, errors: [], election: undefined as unknown as LeaderElection };
  c.election = runLeaderElection({
    kc: cp.kc,
    namespace: NS,
    name: lease,
    identity,
    ...TIMING,
    onStartedLeading: () => (c.startedAt = performance.now()),
    onStoppedLeading: () => c.stoppedLeading++,
    onError: (err) => c.errors.push(err),
  });
  elections.push(c.election);
  return c;
}

const leaders = (cs: Candidate[]): string[] => cs.filter((c) => c.election.isLeader()).map((c) => c.identity);
const TEST_TIMEOUT_MS = 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const eventuallyWithin = (check: () => void, timeoutMs = 15_000) => eventually(check, timeoutMs, 25);

async function holder(lease: string): Promise<string | undefined> {
  return (await leases.readNamespacedLease({ name: lease, namespace: NS })).spec?.holderIdentity;
}

test('of two candidates exactly one leads, and the Lease names it', async () => {
  const cs = [candidate('one-leader', 'a'), candidate('one-leader', 'b')];
  await eventuallyWithin(() => expect(leaders(cs)).toHaveLength(1));
  const [leader] = leaders(cs);
  // Through several renewals: still exactly one, always the same.
  for (let i = 0; i < 8; i++) {
    await sleep(TIMING.retryPeriodMs);
    expect(leaders(cs)).toEqual([leader]);
  }
  expect(await holder('one-leader')).toBe(leader);
  const lease = await leases.readNamespacedLease({ name: 'one-leader', namespace: NS });
  expect(lease.spec).toMatchObject({ leaseDurationSeconds: 3, leaseTransitions: 0 });
  expect(cs.flatMap((c) => c.errors)).toEqual([]);
}, TEST_TIMEOUT_MS);

async function failover(lease: string, release: boolean): Promise<number> {
  const cs = [candidate(lease, 'a'), candidate(lease, 'b')];
  await eventuallyWithin(() => expect(leaders(cs)).toHaveLength(1));
  await sleep(1000); // the standby has seen a few renewals
  const old = cs.find((c) => c.election.isLeader()) as Candidate;
  const standby = cs.find((c) => c !== old) as Candidate;
  const stoppedAt = performance.now();
  await old.election.stop({ release });
  expect(old.election.isLeader()).toBe(false);
  expect(old.stoppedLeading).toBe(1);
  await eventuallyWithin(() => expect(standby.election.isLeader()).toBe(true));
  const took = (standby.startedAt ?? NaN) - stoppedAt;
  expect(await holder(lease)).toBe(standby.identity);
  return took;
}

test('a crashed leader (lease not released) is replaced once the lease expires', async () => {
  const took = await failover('crash', false);
  console.log(`failover after a crash: ${(took / 1000).toFixed(2)} s (lease ${TIMING.leaseDurationMs / 1000} s, retry ${TIMING.retryPeriodMs / 1000} s)`);
  // Not before the lease could have expired, and no later than one lease plus two retries.
  expect(took).toBeGreaterThanOrEqual(TIMING.leaseDurationMs - TIMING.retryPeriodMs);
  expect(took).toBeLessThan(TIMING.leaseDurationMs + 2 * TIMING.retryPeriodMs + 500);
  const lease = await leases.readNamespacedLease({ name: 'crash', namespace: NS });
  expect(lease.spec?.leaseTransitions).toBe(1);
}, TEST_TIMEOUT_MS);

test('a leader that stops cleanly releases the lease and the standby takes over at once', async () => {
  const took = await failover('release', true);
  console.log(`failover after a release: ${(took / 1000).toFixed(2)} s`);
  expect(took).toBeLessThan(TIMING.retryPeriodMs + 500);
}, TEST_TIMEOUT_MS);
