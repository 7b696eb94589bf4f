import { allowedHosts, cookieValue, localGate, newSessionToken, originAllowed, sameToken, sessionCookie, withoutSessionParam } from './session.js';

const token = newSessionToken();
const session = { token, hosts: allowedHosts('127.0.0.1', 8080) };
const good = { host: '127.0.0.1:8080', cookie: `other=1; kubevmm-ui-session=${token}` };
const gate = (method: string, target: string, headers: Record<string, string>, upgrade = false) => localGate({ method, target, headers, upgrade }, session);

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

  it('sets an HttpOnly, SameSite=Strict cookie for the whole site', () => {
    expect(sessionCookie('t')).toBe('kubevmm-ui-session=t; HttpOnly; SameSite=Strict; Path=/');
    expect(cookieValue({ cookie: 'a=1; kubevmm-ui-session=t ;b=2' }, 'kubevmm-ui-session')).toBe('t');
    expect(cookieValue({}, 'kubevmm-ui-session')).toBeUndefined();
  });

  it('trades the session parameter for the cookie and a redirect without it', () => {
    expect(gate('GET', `/vms?session=${token}&x=1`, { host: 'localhost:8080' })).toEqual({ action: 'set-cookie', location: '/vms?x=1' });
    expect(withoutSessionParam(`/?session=${token}`)).toBe('/');
    expect(gate('GET', '/?session=wrong', { host: '127.0.0.1:8080' })).toMatchObject({ action: 'refuse', status: 401 });
  });

  it('refuses every request without the cookie, static files included', () => {
    expect(gate('GET', '/index.html', { host: '127.0.0.1:8080' })).toMatchObject({ action: 'refuse', status: 401, why: expect.stringContaining('kubevmm ui') });
    expect(gate('GET', '/k8s/api/v1/namespaces', { host: '127.0.0.1:8080', cookie: 'kubevmm-ui-session=guess' })).toMatchObject({ action: 'refuse', status: 401 });
    expect(gate('GET', '/', good)).toEqual({ action: 'pass' });
  });

  it('refuses a foreign Host even with the cookie (DNS rebinding)', () => {
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
