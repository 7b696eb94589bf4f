// Leader election against a small fake of the Lease endpoints that enforces what the real
// API server does: 409 on a create of an existing lease and on a replace whose
// resourceVersion is stale, and MicroTime timestamps with exactly six fractional digits.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { eventually, FakeHttpApi } from '../../test/fakes/http-api.js';

const eventually5s = (check: () => void) => eventually(check, 5000);
import { electionTiming, LeaderElectionConfigError, runLeaderElection, type LeaderElection, type LeaderElectionOptions } from './leader.js';

const NS = 'kubevmm-system';
const NAME = 'kubevmm-operator';
const COLLECTION = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

class FakeLeaseApi extends FakeHttpApi {
  lease: Lease | undefined;
  /** Every request fails with 500 (an unreachable or broken API server). */
  failing = false;
  writes = 0;
  private rv = 1;


  /** Writes the lease as another client would. */
  set(spec: Lease['spec']): void {
    this.lease = { metadata: { name: NAME, namespace: NS, resourceVersion: String(++this.rv) }, spec };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    if (this.failing) return reply(res, 500, status(500, 'InternalError'));
    const path = new URL(req.url ?? '/', this.url).pathname;
    if (req.method === 'GET' && path === `${COLLECTION}/${NAME}`) {
      return this.lease ? reply(res, 200, this.lease) : reply(res, 404, status(404, 'NotFound'));
    }
    if (req.method === 'POST' && path === COLLECTION) return this.write(res, JSON.parse(body) as Lease, true);
    if (req.method === 'PUT' && path === `${COLLECTION}/${NAME}`) return this.write(res, JSON.parse(body) as Lease, false);
    reply(res, 404, status(404, 'NotFound'));
  }

  private write(res: ServerResponse, sent: Lease, create: boolean): void {
    if (create ? this.lease : sent.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) {
      return reply(res, 409, status(409, 'Conflict'));
    }
    for (const t of [sent.spec.acquireTime, sent.spec.renewTime]) {
      if (t !== undefined && !MICRO_TIME.test(t)) return reply(res, 400, status(400, `bad MicroTime ${t}`));
    }
    this.writes++;
    this.set(sent.spec);
    reply(res, create ? 201 : 200, this.lease);
  }
}

function status(code: number, reason: string): object {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message: reason };
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let fake: FakeLeaseApi;
let elections: LeaderElection[];

beforeEach(async () => {
  fake = new FakeLeaseApi();
  await fake.listen();
  elections = [];
});

afterEach(async () => {
  for (const e of elections) await e.stop({ release: false });
  await fake.close();
});

interface Candidate {
  election: LeaderElection;
  started: number;
  stopped: number;
  errors: unknown[];
}

function candidate(identity: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
  const c: Candidate = { started: 0, stopped: 0, errors: [], election: undefined as unknown as LeaderElection };
  c.election = runLeaderElection({
    kc: fake.kubeConfig(),
    namespace: NS,
    name: NAME,
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    onStartedLeading: () => c.started++,
    onStoppedLeading: () => c.stopped++,
    onError: (err) => c.errors.push(err),
    ...extra,
  });
  elections.push(c.election);
  return c;
}

test('a candidate creates a missing lease and leads, with MicroTime timestamps', async () => {
  const a = candidate('a');
  await eventually5s(() => expect(a.election.isLeader()).toBe(true));
  expect(a.started).toBe(1);
  expect(fake.lease?.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 1, leaseTransitions: 0 });
  expect(fake.lease?.spec.renewTime).toMatch(MICRO_TIME);
  expect(a.errors).toEqual([]);
});

test('the leader renews: renewTime moves, acquireTime and transitions stay', async () => {
  const a = candidate('a');
  await eventually5s(() => expect(a.election.isLeader()).toBe(true));
  const first = { ...fake.lease?.spec };
  await eventually5s(() => expect(fake.writes).toBeGreaterThanOrEqual(3));
  expect(fake.lease?.spec.renewTime).not.toBe(first.renewTime);
  expect(fake.lease?.spec.acquireTime).toBe(first.acquireTime);
  expect(fake.lease?.spec.leaseTransitions).toBe(0);
  expect(a.started).toBe(1);
});

test('of two candidates exactly one leads, and keeps leading', async () => {
  const a = candidate('a');
  const b = candidate('b');
  await eventually5s(() => expect([a.election.isLeader(), b.election.isLeader()].filter(Boolean)).toHaveLength(1));
  const leader = a.election.isLeader() ? 'a' : 'b';
  for (let i = 0; i < 10; i++) {
    await sleep(100);
    expect([a.election.isLeader(), b.election.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(fake.lease?.spec.holderIdentity).toBe(leader);
  }
  expect(a.started + b.started).toBe(1);
});

test('stop() releases the lease and a standby takes over at its next retry', async () => {
  const a = candidate('a');
  await eventually5s(() => expect(a.election.isLeader()).toBe(true));
  const b = candidate('b');
  await sleep(300);
  expect(b.election.isLeader()).toBe(false);
  const stoppedAt = Date.now();
  await a.election.stop();
  expect(a.stopped).toBe(1);
  expect(a.election.isLeader()).toBe(false);
  await eventually5s(() => expect(b.election.isLeader()).toBe(true));
  expect(Date.now() - stoppedAt).toBeLessThan(500); // far less than the lease duration
  expect(fake.lease?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
});

test('a crashed leader (no release) is replaced once its lease has not changed for the lease duration', async () => {
  const a = candidate('a');
  await eventually5s(() => expect(a.election.isLeader()).toBe(true));
  const b = candidate('b');
  await sleep(300);
  const crashedAt = Date.now();
  await a.election.stop({ release: false });
  await eventually5s(() => expect(b.election.isLeader()).toBe(true));
  const took = Date.now() - crashedAt;
  expect(took).toBeGreaterThanOrEqual(800); // not before the lease could have expired
  expect(took).toBeLessThan(1000 + 2 * 100 + 300);
});

test('a new candidate waits a full lease duration before taking a lease it has just seen', async () => {
  fake.set({ holderIdentity: 'ghost', leaseDurationSeconds: 1, leaseTransitions: 4 });
  const startedAt = Date.now();
  const b = candidate('b');
  await sleep(500);
  expect(b.election.isLeader()).toBe(false);
  await eventually5s(() => expect(b.election.isLeader()).toBe(true));
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
  expect(fake.lease?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5 });
});

test('the leader steps down when it cannot renew within the renew deadline', async () => {
  const a = candidate('a');
  await eventually5s(() => expect(a.election.isLeader()).toBe(true));
  fake.failing = true;
  const failingAt = Date.now();
  await eventually5s(() => expect(a.stopped).toBe(1));
  const took = Date.now() - failingAt;
  expect(a.election.isLeader()).toBe(false);
  expect(took).toBeGreaterThanOrEqual(450);
  expect(took).toBeLessThan(1000); // before anyone else could take the lease
  expect(a.errors.length).toBeGreaterThan(0);
  // The election is over: it does not campaign again when the server comes back.
  fake.failing = false;
  await sleep(300);
  expect(a.election.isLeader()).toBe(false);
  expect(a.started).toBe(1);
});

test('a leader whose lease was taken steps down at its next round', async () => {
  const a = candidate('a');
  await eventually5s(() => expect(a.election.isLeader()).toBe(true));
  fake.set({ ...fake.lease?.spec, holderIdentity: 'intruder' });
  await eventually5s(() => expect(a.stopped).toBe(1));
  expect(a.election.isLeader()).toBe(false);
});

test('durations that leave no time to step down are refused', () => {
  expect(() => electionTiming({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(LeaderElectionConfigError);
  expect(() => electionTiming({ renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(LeaderElectionConfigError);
  expect(() => electionTiming({ leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 100 })).toThrow(/whole seconds/);
  expect(electionTiming({})).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
});
