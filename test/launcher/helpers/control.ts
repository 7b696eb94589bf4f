// A tiny client of the launcher's control API over mutual TLS, as the operator calls it, and
// the callers a launcher must turn away.
import https from 'node:https';
import { launcherServerName } from '../../../api/layout.js';

/** One HTTP exchange with the control API. */
export interface ControlReply {
  status: number;
  contentType: string;
  body: Record<string, unknown> & { state?: string; reason?: string; disks?: { name: string; phase: string; target?: string }[] };
  text: string;
}

/**
 * Who calls: the CA the launcher's certificate must chain to, the VM it must be for, and
 * the client certificate to present (none: cert and key absent). `verify: false` calls like
 * the kubelet's probe: no check of the launcher at all.
 */
export interface Caller {
  ca: string;
  vmUid: string;
  cert?: string;
  key?: string;
  verify?: boolean;
}

/** The TLS side of a request as `caller`: its CA, its certificate, the VM's server name; a fresh connection. */
export function callerTls(caller: Caller): https.RequestOptions {
  return {
    agent: false,
    ca: caller.ca,
    ...(caller.cert && caller.key ? { cert: caller.cert, key: caller.key } : {}),
    servername: launcherServerName(caller.vmUid),
    rejectUnauthorized: caller.verify ?? true,
  };
}

/** Call `method path` as `caller`; a fresh connection each time, so callers never share one. */
export function control(baseUrl: string, method: string, path: string, caller: Caller, body?: unknown): Promise<ControlReply> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${baseUrl}${path}`,
      { method, ...callerTls(caller), headers: payload === undefined ? {} : { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: ControlReply['body'] = {};
          try {
            parsed = JSON.parse(text) as ControlReply['body'];
          } catch {
            // /readyz answers plain text
          }
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A launcher's TLS files and the callers tests use against it. */
export interface ControlCredentials {
  /** For `control: { tls }` of startLauncher. */
  tls: { certFile: string; keyFile: string; clientCaFile: string };
  /** The NBD key written beside them (keys.psk). */
  pskFile: string;
  /** A client certificate from the launcher CA, as the operator presents it. */
  operator: Caller;
  /** The same CA's certificate of the subresource server (ADR 0011), CN kubevmm-subresources. */
  subresources: Caller;
  /** No client certificate (a scraper, a probe that verifies the launcher). */
  anonymous: Caller;
  /** A client certificate from another CA. */
  stranger: Caller;
}

/** The VM UID the test launchers' certificates are issued for. */
export const TEST_VM_UID = '5e0b2c6e-8d4a-4f1e-9a7b-0c1d2e3f4a5b';

/** Issues a launcher's credentials into `dir` (as the operator's Secret volume lays them out). */
export async function controlCredentials(dir: string, vm: { name: string; namespace?: string }): Promise<ControlCredentials> {
  const { testAuthority, testClient, writeLauncherCredentials } = await import('../../../harness/pki.js');
  const authority = await testAuthority();
  const files = await writeLauncherCredentials(authority, { name: vm.name, namespace: vm.namespace ?? 'default', uid: TEST_VM_UID }, dir);
  const [client, streams, foreign] = await Promise.all([testClient(authority), testClient(authority, 'kubevmm-subresources'), testClient(await testAuthority('another-ca'))]);
  const base = { ca: authority.ca.certPem, vmUid: TEST_VM_UID };
  return {
    tls: { certFile: files.certFile, keyFile: files.keyFile, clientCaFile: files.clientCaFile },
    pskFile: files.pskFile,
    operator: { ...base, cert: client.cert, key: client.key },
    subresources: { ...base, cert: streams.cert, key: streams.key },
    anonymous: base,
    stranger: { ...base, cert: foreign.cert, key: foreign.key },
  };
}
