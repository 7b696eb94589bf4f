// The control API's routes, independent of node:http: a request goes in, a status code and a
// JSON body come out. Errors become `{reason, message}` with the status their kind calls for.

import type { z } from 'zod';
import { attachRequest, describeIssues, type VmMetricsReport } from '../../api/contract/control.js';
import { describeError, type LauncherErrorKind } from '../runtime/errors.js';
import type { VmController } from '../runtime/status.js';

/** A parsed request. */
export interface ControlRequest {
  method: string;
  path: string;
  /** The raw body (JSON for POST /disks). */
  body: string;
}

/** What to answer. `body` undefined means a plain-text readiness answer. */
export interface ControlResponse {
  status: number;
  body: unknown;
}

const STATUS_OF_KIND: Record<LauncherErrorKind, number> = { invalid: 400, conflict: 409, 'not-found': 404, failed: 500, unreachable: 502, timeout: 504 };

/** An error response. */
export function errorResponse(status: number, reason: string, message: string): ControlResponse {
  return { status, body: { reason, message } };
}

/** Map any thrown value to an error response; typed launcher and QMP errors keep their reason. */
export function toErrorResponse(err: unknown): ControlResponse {
  const typed = err as { reason?: unknown; kind?: unknown };
  const reason = typeof typed?.reason === 'string' ? typed.reason : 'InternalError';
  const kind = typeof typed?.kind === 'string' && typed.kind in STATUS_OF_KIND ? (typed.kind as LauncherErrorKind) : 'failed';
  return errorResponse(STATUS_OF_KIND[kind], reason, describeError(err));
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body || 'null');
  } catch (err) {
    throw Object.assign(new Error(`request body is not JSON: ${describeError(err)}`), { reason: 'InvalidRequest', kind: 'invalid' });
  }
}

function validationError(error: z.ZodError): ControlResponse {
  return errorResponse(400, 'InvalidRequest', describeIssues(error));
}

/** What the routes act on: the VM, and its numbers when the launcher collects them. */
export interface ControlApi {
  vmm: VmController;
  /** GET /vm-metrics; absent: 404. */
  vmMetrics?: () => Promise<VmMetricsReport>;
}

type Handler = (api: ControlApi, req: ControlRequest, param?: string) => Promise<ControlResponse>;

const ok = (vmm: VmController, status = 200): ControlResponse => ({ status, body: vmm.status() });

const handlers: Record<string, Handler> = {
  'GET /status': async ({ vmm }) => ok(vmm),
  'GET /vm-metrics': async ({ vmMetrics }, req) => (vmMetrics ? { status: 200, body: await vmMetrics() } : errorResponse(404, 'NotFound', `no such endpoint: GET ${req.path}`)),
  'POST /pause': async ({ vmm }) => (await vmm.pause(), ok(vmm)),
  'POST /resume': async ({ vmm }) => (await vmm.resume(), ok(vmm)),
  'POST /reset': async ({ vmm }) => (await vmm.reset(), ok(vmm)),
  // Accepted, not done: the stop takes up to the grace period; GET /status follows it.
  'POST /shutdown': async ({ vmm }) => (void vmm.stop(), ok(vmm, 202)),
  'POST /disks': async ({ vmm }, req) => {
    const parsed = attachRequest.safeParse(parseJson(req.body));
    if (!parsed.success) return validationError(parsed.error);
    return { status: 201, body: await vmm.attachDisk(parsed.data) };
  },
  'DELETE /disks/:name': async ({ vmm }, _req, name) => (await vmm.detachDisk(name!), ok(vmm)),
};

/** Route key and parameter of a path: `/disks/data` -> `/disks/:name`, `data`. */
function route(method: string, path: string): { key: string; param?: string } {
  const disk = /^\/disks\/([^/]+)$/.exec(path);
  if (disk) return { key: `${method} /disks/:name`, param: decodeURIComponent(disk[1]!) };
  return { key: `${method} ${path}` };
}

const KNOWN_PATHS = new Set(Object.keys(handlers).map((k) => k.split(' ')[1]));

/** Answer an authenticated request. */
export async function handleControlRequest(api: ControlApi, req: ControlRequest): Promise<ControlResponse> {
  const { key, param } = route(req.method, req.path);
  const handler = handlers[key];
  if (!handler) {
    const pathKnown = KNOWN_PATHS.has(key.split(' ')[1]);
    return pathKnown
      ? errorResponse(405, 'MethodNotAllowed', `${req.method} is not allowed on ${req.path}`)
      : errorResponse(404, 'NotFound', `no such endpoint: ${req.method} ${req.path}`);
  }
  try {
    return await handler(api, req, param);
  } catch (err) {
    return toErrorResponse(err);
  }
}
