import { browserProtocols } from '../../api/contract/subresource.js';
import { allowedHosts, localGate, newSessionToken, originAllowed, presentedToken, sameToken } from './session.js';

const token = newSessionToken();
const session = { token, hosts: allowedHosts('127.0.0.1', 8080) };
const good = { host: '127.0.0.1:8080', authorization: `Bearer ${token}` };
/** The gate for `target` as the handler calls it: the API and the configuration are guarded. */
const gate = (method: string, target: string, headers: Record<string, string>, upgrade = false) =>
  localGate({ method, headers, upgrade, guarded: target.startsWith('/k8s/') || target === '/config.json' }, session);

describe('the local session', () => {
  it('makes 32 random bytes, base64url, different each time', () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newSessionToken()).not.toBe(token);
  });

  it('compares tokens of any length without throwing', () => {
    expect(sameToken(token, token)).toBe(true);
    expect(sameToken(`${token}x`, token)).toBe(false);
    expect(sameToken('', token)).toBe(false);
    expect(sameToken(undefined, token)).toBe(false);
  });

  it('takes the token from Authorization: Bearer, or on a WebSocket from the bearer subprotocol only', () => {
    expect(presentedToken({ authorization: `Bearer ${token}` }, false)).toBe(token);
    const protocols = browserProtocols(token).join(', ');
    expect(presentedToken({ 'sec-websocket-protocol': protocols }, true)).toBe(token);
    expect(presentedToken({ 'sec-websocket-protocol': protocols }, false)).toBeUndefined();
    expect(presentedToken({ authorization: `Basic ${token}` }, false)).toBeUndefined();
    expect(gate('GET', '/k8s/x', { host: '127.0.0.1:8080', 'sec-websocket-protocol': protocols, origin: 'http://127.0.0.1:8080' }, true)).toEqual({ action: 'pass' });
  });

  it('refuses the API, the configuration and every WebSocket without the token, and takes no cookie for it', () => {
    expect(gate('GET', '/k8s/api/v1/namespaces', { host: '127.0.0.1:8080' })).toMatchObject({ action: 'refuse', status: 401, why: expect.stringContaining('kubevmm ui') });
    expect(gate('GET', '/config.json', { host: '127.0.0.1:8080', cookie: `kubevmm-ui-session=${token}` })).toMatchObject({ action: 'refuse', status: 401 });
    expect(gate('GET', '/k8s/api/v1/namespaces', { host: '127.0.0.1:8080', authorization: 'Bearer guess' })).toMatchObject({ action: 'refuse', status: 401 });
    expect(gate('GET', '/assets/app.js', { host: '127.0.0.1:8080' }, true)).toMatchObject({ action: 'refuse', status: 401 });
    expect(gate('GET', '/config.json', good)).toEqual({ action: 'pass' });
  });

  it('serves the app’s own files without the token (a page cannot send a header when it loads them)', () => {
    expect(gate('GET', `/?session=${token}`, { host: '127.0.0.1:8080' })).toEqual({ action: 'pass' });
    expect(gate('GET', '/assets/app.js', { host: 'localhost:8080' })).toEqual({ action: 'pass' });
  });

  it('refuses a foreign Host even with the token (DNS rebinding), the app’s files included', () => {
    expect(gate('GET', '/', { ...good, host: 'evil.example:8080' })).toMatchObject({ action: 'refuse', status: 403 });
    expect(gate('GET', '/', { ...good, host: '127.0.0.1:9999' })).toMatchObject({ action: 'refuse', status: 403 });
    expect(gate('GET', `/?session=${token}`, { host: 'evil.example:8080' })).toMatchObject({ action: 'refuse', status: 403 });
  });

  it('refuses a cross-origin write or WebSocket (CSRF, CSWSH); same-origin and no Origin pass', () => {
    expect(gate('POST', '/k8s/api/v1/namespaces', { ...good, origin: 'http://evil.example' })).toMatchObject({ action: 'refuse', status: 403 });
    expect(gate('GET', '/k8s/x', { ...good, origin: 'http://evil.example' }, true)).toMatchObject({ action: 'refuse', status: 403 });
    expect(gate('DELETE', '/k8s/x', { ...good, origin: 'http://127.0.0.1:8080' })).toEqual({ action: 'pass' });
    expect(gate('PATCH', '/k8s/x', good)).toEqual({ action: 'pass' });
    expect(originAllowed({ origin: 'https://127.0.0.1:8080' }, session.hosts)).toBe(false);
    expect(originAllowed({ origin: 'null' }, session.hosts)).toBe(false);
  });

  it('answers an IPv6 loopback as [::1]:port', () => {
    expect([...allowedHosts('::1', 5)]).toEqual(['[::1]:5', 'localhost:5']);
  });
});
