// The control API's routes, independent of node:http: a request goes in, a status code and a
// JSON body come out. Errors become `{reason, message}` with the status their kind calls for.

import { z } from 'zod';
import { NBD_EXPORT } from '../../api/layout.js';
import { dnsLabel } from '../../api/schema/common.js';
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

/** An attachment pod's NBD export (ADR 0005); port and export default to NBD_EXPORT's. */
export const nbdSourceBody = z.strictObject({
  host: z.string().min(1).max(253).regex(/^[A-Za-z0-9._:-]+$/, 'host must be a DNS name or an IP address'),
  port: z.number().int().min(1).max(65535).default(NBD_EXPORT.port),
  export: z.string().min(1).max(256).default(NBD_EXPORT.name),
});

/** Body of POST /disks: exactly one of `path` (a local image) and `nbd` (an export). */
export const attachDiskBody = z
  .strictObject({
    name: dnsLabel,
    path: z.string().min(1).startsWith('/', 'path must be absolute').optional(),
    nbd: nbdSourceBody.optional(),
    format: z.enum(['raw', 'qcow2']).optional(),
    bus: z.enum(['virtio', 'scsi']).optional(),
    readOnly: z.boolean().optional(),
    cache: z.enum(['none', 'writethrough', 'writeback']).optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.path === undefined) === (body.nbd === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['path'], message: 'give exactly one of path (a local image) and nbd ({host, port, export} of an export)' });
    }
    if (body.nbd && body.format) ctx.addIssue({ code: 'custom', path: ['format'], message: 'not with nbd: the export serves the guest-visible bytes; drop format' });
  });

const STATUS_OF_KIND: Record<LauncherErrorKind, number> = { invalid: 400, conflict: 409, 'not-found': 404, failed: 500 };

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
  const detail = error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  return errorResponse(400, 'InvalidRequest', detail);
}

type Handler = (vmm: VmController, req: ControlRequest, param?: string) => Promise<ControlResponse>;

const ok = (vmm: VmController, status = 200): ControlResponse => ({ status, body: vmm.status() });

const handlers: Record<string, Handler> = {
  'GET /status': async (vmm) => ok(vmm),
  'POST /pause': async (vmm) => (await vmm.pause(), ok(vmm)),
  'POST /resume': async (vmm) => (await vmm.resume(), ok(vmm)),
  'POST /reset': async (vmm) => (await vmm.reset(), ok(vmm)),
  // Accepted, not done: the stop takes up to the grace period; GET /status follows it.
  'POST /shutdown': async (vmm) => (void vmm.stop(), ok(vmm, 202)),
  'POST /disks': async (vmm, req) => {
    const parsed = attachDiskBody.safeParse(parseJson(req.body));
    if (!parsed.success) return validationError(parsed.error);
    return { status: 201, body: await vmm.attachDisk(parsed.data) };
  },
  'DELETE /disks/:name': async (vmm, _req, name) => (await vmm.detachDisk(name!), ok(vmm)),
};

/** Route key and parameter of a path: `/disks/data` -> `/disks/:name`, `data`. */
function route(method: string, path: string): { key: string; param?: string } {
  const disk = /^\/disks\/([^/]+)$/.exec(path);
  if (disk) return { key: `${method} /disks/:name`, param: decodeURIComponent(disk[1]!) };
  return { key: `${method} ${path}` };
}

const KNOWN_PATHS = new Set(Object.keys(handlers).map((k) => k.split(' ')[1]));

/** Answer an authenticated request. */
export async function handleControlRequest(vmm: VmController, req: ControlRequest): Promise<ControlResponse> {
  const { key, param } = route(req.method, req.path);
  const handler = handlers[key];
  if (!handler) {
    const pathKnown = KNOWN_PATHS.has(key.split(' ')[1]);
    return pathKnown
      ? errorResponse(405, 'MethodNotAllowed', `${req.method} is not allowed on ${req.path}`)
      : errorResponse(404, 'NotFound', `no such endpoint: ${req.method} ${req.path}`);
  }
  try {
    return await handler(vmm, req, param);
  } catch (err) {
    return toErrorResponse(err);
  }
}
