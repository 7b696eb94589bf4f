/**
 * The upload's calls to the API server: `HEAD` and `PUT` on the image's
 * `virtualmachineimages/upload` subresource, authenticated as the kubeconfig's user (the same
 * options as the stream verbs, stream.ts). The file streams from disk into the request with
 * backpressure; nothing is buffered whole. A PUT that sends nothing for {@link IDLE_MS} is cut
 * and counts as a dropped connection.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { UPLOAD_LENGTH_HEADER, UPLOAD_OFFSET_HEADER } from '../../api/contract/importer.js';
import { imageUploadPath } from '../../api/contract/subresource.js';
import { printable } from './progress.js';
import { API_SERVICE, parseStatus } from './refusal.js';
import { UploadCallError, type UploadPosition, type UploadPut, type UploadTransport } from './upload-loop.js';

/** Nothing sent or answered for this long: the connection is taken as dropped. */
export const IDLE_MS = 60_000;

/** Where to send: the API server's URL, the image, and the kubeconfig's TLS and headers. */
export interface UploadTarget {
  server: string;
  namespace: string;
  name: string;
  options: RequestOptions;
}

const RETRY_CODES = new Set([429, 500, 502, 503, 504]);

function headerNumber(res: IncomingMessage, name: string): number | undefined {
  const value = res.headers[name];
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

/** The error for an HTTP answer that is not a success: what the server said, and whether another try may do. */
export function answerError(target: Pick<UploadTarget, 'namespace' | 'name'>, code: number, body: string, offset?: number): UploadCallError {
  const status = parseStatus(body);
  const said = printable(status?.message || body.replace(/\s+/g, ' ').trim().slice(0, 200));
  const image = `image ${target.namespace}/${target.name}`;
  // The importer's own 409 carries its offset: resume from there.
  if (code === 409 && offset !== undefined) return new UploadCallError(`the importer of ${image} is at byte ${offset}: ${said}`, true, offset);
  if (code === 403) return new UploadCallError(`${said || `forbidden to upload to ${image}`} (ask for the kubevmm-vm-user role in namespace ${target.namespace})`, false);
  if (code === 404 && !status?.details?.name) {
    return new UploadCallError(`${image} was not found, or the API server does not serve virtualmachineimages/upload${said ? ` (${said})` : ''}: is kubevmm's subresource server installed and its APIService ${API_SERVICE} Available, in a version with uploads?`, false);
  }
  return new UploadCallError(`${code}: ${said || (WITHOUT_BODY[code] ?? 'no reason given').replace('IMAGE', image)}`, RETRY_CODES.has(code), offset);
}

/** What a bodiless answer (HEAD has none) means, by its code. */
const WITHOUT_BODY: Readonly<Record<number, string>> = {
  404: 'IMAGE does not exist',
  409: 'IMAGE takes no upload now: its source is not upload, or it is already Ready or Failed (kubectl describe vmimage says which)',
  503: 'IMAGE has no importer ready to take bytes yet',
};

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < 64 * 1024) body += chunk;
    });
    res.on('end', () => resolve(body));
    res.on('error', () => resolve(body));
  });
}

/** The upload subresource of one image, over HTTP(S). */
export class HttpUploadTransport implements UploadTransport {
  private readonly url: URL;

  constructor(private readonly target: UploadTarget) {
    this.url = new URL(`${target.server.replace(/\/+$/, '')}${imageUploadPath({ namespace: target.namespace, name: target.name })}`);
  }

  private send(method: 'HEAD' | 'PUT', headers: Record<string, string>, fill: (req: ReturnType<typeof httpsRequest>) => void): Promise<IncomingMessage & { body: string }> {
    const request = this.url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = request(this.url, { ...this.target.options, method, agent: false, headers: { ...(this.target.options.headers ?? {}), ...headers } });
      req.setTimeout(IDLE_MS, () => req.destroy(new Error(`no progress for ${IDLE_MS / 1000} s`)));
      req.on('response', (res) => void readAll(res).then((body) => resolve(Object.assign(res, { body }))));
      req.on('error', (err) => reject(new UploadCallError(`the connection to ${this.url.host} dropped: ${err.message}`, true)));
      fill(req);
    });
  }

  async head(): Promise<UploadPosition> {
    const res = await this.send('HEAD', {}, (req) => req.end());
    const offset = headerNumber(res, UPLOAD_OFFSET_HEADER);
    if (res.statusCode !== 200 || offset === undefined) throw answerError(this.target, res.statusCode ?? 0, res.body);
    const length = headerNumber(res, UPLOAD_LENGTH_HEADER);
    return { offset, ...(length === undefined ? {} : { length }) };
  }

  async put(put: UploadPut): Promise<number> {
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(put.end - put.offset),
      [UPLOAD_OFFSET_HEADER]: String(put.offset),
      ...(put.length === undefined ? {} : { [UPLOAD_LENGTH_HEADER]: String(put.length) }),
    };
    let sent = 0;
    const res = await this.send('PUT', headers, (req) => {
      put.body.on('data', (chunk: Buffer) => put.onBytes((sent += chunk.length)));
      put.body.on('error', (err) => req.destroy(err));
      put.body.pipe(req);
    });
    const offset = headerNumber(res, UPLOAD_OFFSET_HEADER);
    if ((res.statusCode ?? 0) >= 300 || offset === undefined) throw answerError(this.target, res.statusCode ?? 0, res.body, offset);
    return offset;
  }
}
