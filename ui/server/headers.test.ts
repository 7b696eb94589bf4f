import { APP_CSP, appCsp, BEARER_PROTOCOL_PREFIX, downstreamHeaders, securityHeaders, upstreamHeaders } from './headers.js';

const bearer = `${BEARER_PROTOCOL_PREFIX}dG9rZW4`;

describe('upstreamHeaders: what the API server gets', () => {
  const browser = {
    host: '127.0.0.1:8080',
    connection: 'keep-alive, x-private',
    'keep-alive': 'timeout=5',
    'x-private': 'hop',
    'transfer-encoding': 'chunked',
    te: 'trailers',
    'proxy-authorization': 'Basic eA==',
    cookie: 'kubevmm-ui-session=secret',
    authorization: 'Bearer user-token',
    'x-remote-user': 'system:admin',
    'x-remote-group': 'system:masters',
    accept: 'application/json',
    'content-type': 'application/merge-patch+json',
    'impersonate-user': 'alice',
  };

  it('cluster mode: the browser’s Authorization passes as is; hop-by-hop, cookies and front-proxy identity headers do not', () => {
    expect(upstreamHeaders(browser, { mode: 'cluster', host: 'api:6443', upgrade: false })).toEqual({
      host: 'api:6443',
      authorization: 'Bearer user-token',
      accept: 'application/json',
      'content-type': 'application/merge-patch+json',
      'impersonate-user': 'alice',
    });
  });

  it('local mode: the browser’s Authorization is dropped (the kubeconfig’s is applied instead)', () => {
    expect(upstreamHeaders(browser, { mode: 'local', host: 'api:6443', upgrade: false })).not.toHaveProperty('authorization');
  });

  it('an upgrade keeps Upgrade/Connection and its subprotocols; local mode strips bearer subprotocols', () => {
    const ws = { host: 'x', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k', 'sec-websocket-version': '13', 'sec-websocket-protocol': `${bearer}, v1.stream.kubevmm.io`, origin: 'http://127.0.0.1:1' };
    expect(upstreamHeaders(ws, { mode: 'cluster', host: 'api', upgrade: true })).toEqual({ host: 'api', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k', 'sec-websocket-version': '13', 'sec-websocket-protocol': `${bearer}, v1.stream.kubevmm.io`, origin: 'http://127.0.0.1:1' });
    expect(upstreamHeaders(ws, { mode: 'local', host: 'api', upgrade: true })['sec-websocket-protocol']).toBe('v1.stream.kubevmm.io');
    const onlyBearer = { ...ws, 'sec-websocket-protocol': bearer };
    expect(upstreamHeaders(onlyBearer, { mode: 'local', host: 'api', upgrade: true })).not.toHaveProperty('sec-websocket-protocol');
  });
});

describe('downstreamHeaders: what the browser gets back', () => {
  it('drops hop-by-hop headers and Set-Cookie, keeps the rest', () => {
    expect(downstreamHeaders({ connection: 'close', 'transfer-encoding': 'chunked', 'set-cookie': ['a=b'], 'content-type': 'application/json', 'audit-id': '1' })).toEqual({ 'content-type': 'application/json', 'audit-id': '1' });
  });
});

describe('securityHeaders', () => {
  it('the app: own scripts only, connections to its own origin, images also from data: and blob:, never framed', () => {
    const h = securityHeaders('app', false);
    for (const directive of ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "img-src 'self' data: blob:", "frame-ancestors 'none'"]) expect(h['content-security-policy']).toContain(directive);
    expect(APP_CSP).not.toMatch(/script-src[^;]*unsafe/);
    expect(h).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
    expect(h).not.toHaveProperty('strict-transport-security');
  });

  it('relayed API answers are sandboxed (an HTML answer runs no script in the console’s origin); HSTS over TLS', () => {
    const h = securityHeaders('api', true);
    expect(h['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'; sandbox");
    expect(h['strict-transport-security']).toMatch(/max-age=\d+/);
  });
});

describe('appCsp', () => {
  it("lets the app fetch from the OIDC issuer's origin and nowhere else", () => {
    const csp = appCsp(['https://idp.example.com']);
    expect(csp).toContain("connect-src 'self' https://idp.example.com;");
    expect(csp).toContain("script-src 'self';");
    expect(appCsp([])).toContain("connect-src 'self';");
  });
});
