/**
 * The subresource API's contract (ADR 0011): the paths under `subresources.kubevmm.io` that
 * clients (the CLI, the web console) open and the subresource server parses, the WebSocket
 * subprotocol of the streams, and the Kubernetes `Status` every refusal is written as. The
 * client builds a path with {@link subresourcePath}, the server reads it back with
 * {@link parseSubresourcePath}, so the two cannot disagree on a segment or a parameter.
 */
import { z } from 'zod';
import { dnsLabel } from '../schema/common.js';
import { dnsSubdomain, vmName } from '../schema/kube.js';
import { CONTROL_CLIENTS, describeIssues, portForwardTarget, vmMetricsReport } from './control.js';

/** The aggregated API's group and version (the APIService `v1alpha1.subresources.kubevmm.io`). */
export const SUBRESOURCE_GROUP = 'subresources.kubevmm.io';
export const SUBRESOURCE_VERSION = 'v1alpha1';

/** Subresources that are byte streams over a WebSocket. */
export const streamSubresource = z.enum(['console', 'vnc', 'portforward']);
/** Every subresource of `virtualmachines` the server answers. */
export const vmSubresource = z.enum([...streamSubresource.options, 'metrics']);

/**
 * The streams' WebSocket subprotocol: binary messages carry the stream's bytes unchanged, in
 * both directions; text messages are refused.
 */
export const STREAM_PROTOCOL = 'v1.stream.kubevmm.io';

/**
 * The subprotocol a browser adds to carry its bearer token (the API server authenticates it and
 * removes it before proxying). Never selected, echoed or believed by the subresource server.
 */
export const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.authorization.k8s.io.';

/** WebSocket close codes of a stream: it ended (the VM stopped, the port closed) or failed. */
export const STREAM_CLOSE = { ended: 1000, failed: 1011 } as const;

/** Query of `portforward`: the guest's TCP port (the launcher's `GET /portforward` takes the same). */
export const portForwardQuery = portForwardTarget;

/** One subresource request, as the path and query say. */
export const subresourceRequest = z.discriminatedUnion('subresource', [
  z.strictObject({ namespace: dnsLabel, name: vmName, subresource: z.literal('console') }),
  z.strictObject({ namespace: dnsLabel, name: vmName, subresource: z.literal('vnc') }),
  z.strictObject({ namespace: dnsLabel, name: vmName, subresource: z.literal('metrics') }),
  z.strictObject({ namespace: dnsLabel, name: vmName, subresource: z.literal('portforward'), port: portForwardQuery.shape.port }),
]);

export type StreamSubresource = z.infer<typeof streamSubresource>;
export type VmSubresource = z.infer<typeof vmSubresource>;
export type SubresourceRequest = z.infer<typeof subresourceRequest>;

const PREFIX = `/apis/${SUBRESOURCE_GROUP}/${SUBRESOURCE_VERSION}/namespaces/`;

/** The request's path and query, as a client sends it (relative to the API server's URL). */
export function subresourcePath(request: SubresourceRequest): string {
  const parsed = subresourceRequest.parse(request);
  const path = `${PREFIX}${parsed.namespace}/virtualmachines/${parsed.name}/${parsed.subresource}`;
  return parsed.subresource === 'portforward' ? `${path}?port=${parsed.port}` : path;
}

/** Why a path is not a subresource request. */
export interface PathRefusal {
  /** 404: not a path of this API; 400: one of its paths with a bad name or parameter. */
  code: 400 | 404;
  message: string;
}

const PREFIX_SEGMENTS = ['apis', SUBRESOURCE_GROUP, SUBRESOURCE_VERSION, 'namespaces'];

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

const refuse = (code: 400 | 404, message: string) => ({ ok: false as const, refusal: { code, message } });

/**
 * The query's parameters, each at most once, and only `port` (portforward's): every other key
 * would be a second opinion on what the path already says.
 */
function queryOf(query: string, subresource: VmSubresource): { ok: true; params: Record<string, string> } | { ok: false; refusal: PathRefusal } {
  const params: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(query)) {
    if (key !== 'port' || subresource !== 'portforward') return refuse(400, `query parameter "${key}" is not one of virtualmachines/${subresource}'s${subresource === 'portforward' ? ' (it takes port only)' : ' (it takes none)'}`);
    if (Object.hasOwn(params, key)) return refuse(400, `query parameter "${key}" is given more than once`);
    params[key] = value;
  }
  return { ok: true, params };
}

/**
 * The namespace, name and subresource of a request target under `resource`, read as sent: the
 * API server authorized these very segments, so `.` and `..` (also percent-encoded) are
 * refused rather than resolved. `query` is what follows `?` ('' when nothing does).
 */
function targetSegments(target: string, resource: string): { ok: true; segments: [string, string, string]; query: string } | { ok: false; refusal: PathRefusal } {
  const at = target.indexOf('?');
  const path = at === -1 ? target : target.slice(0, at);
  const raw = path.split('/');
  const shape = raw.length === 9 && raw[0] === '' && PREFIX_SEGMENTS.every((s, i) => raw[i + 1] === s) && raw[6] === resource;
  if (!shape) return refuse(404, `${path} is not a subresource of ${SUBRESOURCE_GROUP}/${SUBRESOURCE_VERSION} ${resource}`);
  const segments = [raw[5]!, raw[7]!, raw[8]!].map(decodeSegment);
  if (segments.includes(undefined)) return refuse(400, `${path}: a path segment is not valid percent-encoding`);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return refuse(400, `${path}: empty, "." and ".." path segments are not allowed`);
  return { ok: true, segments: segments as [string, string, string], query: at === -1 ? '' : target.slice(at + 1) };
}

/**
 * Reads a request target (`/apis/...?...`) back into a request, or says why it is none. The
 * target is read as sent, never normalised: the API server authorized these very segments, so
 * `.` and `..` segments (also percent-encoded) are refused rather than resolved, and only the
 * path names the namespace, the VM and the subresource.
 */
export function parseSubresourcePath(target: string): { ok: true; request: SubresourceRequest } | { ok: false; refusal: PathRefusal } {
  const read = targetSegments(target, 'virtualmachines');
  if (!read.ok) return read;
  const [namespace, name, subresource] = read.segments;
  const known = vmSubresource.safeParse(subresource);
  if (!known.success) return refuse(404, `virtualmachines has no subresource "${subresource}"; there are ${vmSubresource.options.join(', ')}`);
  const query = queryOf(read.query, known.data);
  if (!query.ok) return query;
  const parsed = subresourceRequest.safeParse({ ...query.params, namespace, name, subresource });
  if (!parsed.success) return refuse(400, describeIssues(parsed.error));
  return { ok: true, request: parsed.data };
}

/** Subresources of `virtualmachineimages`: `upload` (HEAD: bytes received so far; PUT: more bytes). */
export const imageSubresource = z.enum(['upload']);

/**
 * An upload request: `HEAD .../virtualmachineimages/NAME/upload` answers the importer's
 * `upload-offset` (and `upload-length` once known); `PUT` with `upload-offset` (where the body
 * starts) and, while the importer has none, `upload-length` (the whole file's size) sends the
 * next bytes. The subresource server relays both to the image's importer pod unchanged
 * (api/contract/importer.ts). Authorized as `get` (HEAD) and `update` (PUT) on
 * `virtualmachineimages/upload`, the verbs the API server derives from the methods.
 */
export const imageUploadRequest = z.strictObject({ namespace: dnsLabel, name: dnsSubdomain.max(57), subresource: z.literal('upload') });
export type ImageUploadRequest = z.infer<typeof imageUploadRequest>;

/** The methods of `virtualmachineimages/upload`. */
export const UPLOAD_METHODS = ['HEAD', 'PUT'] as const;

/** The upload subresource's path (relative to the API server's URL). */
export function imageUploadPath(request: Omit<ImageUploadRequest, 'subresource'>): string {
  const parsed = imageUploadRequest.parse({ ...request, subresource: 'upload' });
  return `${PREFIX}${parsed.namespace}/virtualmachineimages/${parsed.name}/upload`;
}

/** Whether a request target is under `.../virtualmachineimages/` (and so is no VM subresource). */
export function isImagePath(target: string): boolean {
  const path = target.split('?')[0] ?? '';
  return path.startsWith(PREFIX) && path.split('/')[6] === 'virtualmachineimages';
}

/** Reads an upload target back into its request, as strictly as {@link parseSubresourcePath}; no query is taken. */
export function parseImageUploadPath(target: string): { ok: true; request: ImageUploadRequest } | { ok: false; refusal: PathRefusal } {
  const read = targetSegments(target, 'virtualmachineimages');
  if (!read.ok) return read;
  const [namespace, name, subresource] = read.segments;
  if (!imageSubresource.safeParse(subresource).success) return refuse(404, `virtualmachineimages has no subresource "${subresource}"; there is ${imageSubresource.options.join(', ')}`);
  if (read.query !== '') return refuse(400, 'virtualmachineimages/upload takes no query parameters: the offset travels in the upload-offset header');
  const parsed = imageUploadRequest.safeParse({ namespace, name, subresource });
  if (!parsed.success) return refuse(400, describeIssues(parsed.error));
  return { ok: true, request: parsed.data };
}

/** The subprotocols a browser offers: the stream's and its token's (base64url, no padding). */
export function browserProtocols(token: string): string[] {
  // btoa and TextEncoder, not Buffer: the web console runs this in a browser.
  const binary = String.fromCharCode(...new TextEncoder().encode(token));
  const base64url = btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return [STREAM_PROTOCOL, `${BEARER_PROTOCOL_PREFIX}${base64url}`];
}

/** The subprotocol the server answers with: the stream's when offered; a bearer one never. */
export function selectStreamProtocol(offered: ReadonlySet<string> | readonly string[]): string | undefined {
  return [...offered].includes(STREAM_PROTOCOL) ? STREAM_PROTOCOL : undefined;
}

/** The common name of the subresource server's launcher client certificate (ADR 0011). */
export const SUBRESOURCE_CLIENT_NAME = CONTROL_CLIENTS.subresources;

/**
 * The answer of `GET .../virtualmachines/NAME/metrics`: the launcher's report (`GET
 * /vm-metrics`) named as a Kubernetes object, so `kubectl get --raw` output says what it is.
 */
export const vmMetricsObject = vmMetricsReport.extend({
  kind: z.literal('VirtualMachineMetrics'),
  apiVersion: z.literal(`${SUBRESOURCE_GROUP}/${SUBRESOURCE_VERSION}`),
  metadata: z.object({ name: z.string(), namespace: z.string() }),
});
export type VmMetricsObject = z.infer<typeof vmMetricsObject>;

/** Reasons of a refusal, as Kubernetes names them. */
export const statusReason = z.enum(['Unauthorized', 'Forbidden', 'NotFound', 'BadRequest', 'Conflict', 'ServiceUnavailable', 'InternalError', 'MethodNotAllowed']);

/**
 * A Kubernetes `Status` (meta/v1): what the subresource server answers instead of a stream or
 * metrics, and what the CLI prints the message of. Unknown fields are ignored (the API server
 * writes its own for refusals it makes before proxying).
 */
export const kubeStatus = z.object({
  kind: z.literal('Status'),
  apiVersion: z.literal('v1'),
  status: z.enum(['Success', 'Failure']),
  message: z.string().default(''),
  reason: z.string().default(''),
  code: z.number().int(),
  details: z.object({ name: z.string().optional(), group: z.string().optional(), kind: z.string().optional() }).optional(),
});

export type KubeStatus = z.infer<typeof kubeStatus>;
export type StatusReason = z.infer<typeof statusReason>;

const CODE_OF_REASON: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  InternalError: 500,
  ServiceUnavailable: 503,
};

/** A failure `Status` about one VM (details name it, so clients can say which). */
export function failureStatus(reason: StatusReason, message: string, vm?: { name: string }): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message,
    reason,
    code: CODE_OF_REASON[reason],
    ...(vm ? { details: { name: vm.name, group: SUBRESOURCE_GROUP, kind: 'virtualmachines' } } : {}),
  };
}
