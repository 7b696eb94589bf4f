import { parseUpgrade, switchingProtocols } from './upgrade.js';

describe('parseUpgrade', () => {
  it.each([
    ['/console', 'kubevmm-console', 'console'],
    ['/vnc', 'kubevmm-vnc', 'vnc'],
    ['/portforward?port=22', 'kubevmm-portforward', 'portforward'],
    // Tokens are case-insensitive and may come in a list (RFC 9110).
    ['/vnc', 'h2c, KubeVMM-VNC', 'vnc'],
  ])('GET %s with Upgrade: %s opens the %s stream', (url, upgrade, stream) => {
    const parsed = parseUpgrade({ method: 'GET', url, upgrade });
    expect(parsed).toEqual({ target: { stream, upgrade: `kubevmm-${stream}`, query: expect.any(URLSearchParams) } });
  });

  it('keeps the query for the stream', () => {
    const parsed = parseUpgrade({ method: 'GET', url: '/portforward?port=8080', upgrade: 'kubevmm-portforward' });
    expect('target' in parsed && parsed.target.query.get('port')).toBe('8080');
  });

  it.each([
    ['an unknown path', { method: 'GET', url: '/shell', upgrade: 'kubevmm-console' }, 404, 'NotFound', /no stream on \/shell; the streams are GET \/console, \/vnc, \/portforward/],
    ['an endpoint that is no stream', { method: 'GET', url: '/status', upgrade: 'kubevmm-console' }, 404, 'NotFound', /no stream on \/status/],
    ['a prototype key as path', { method: 'GET', url: '/constructor', upgrade: 'kubevmm-console' }, 404, 'NotFound', /no stream/],
    ['POST', { method: 'POST', url: '/vnc', upgrade: 'kubevmm-vnc' }, 405, 'MethodNotAllowed', /POST \/vnc: a stream is opened with GET/],
    ['a websocket upgrade', { method: 'GET', url: '/vnc', upgrade: 'websocket' }, 400, 'InvalidRequest', /GET \/vnc upgrades to "kubevmm-vnc" only \(Upgrade: websocket\)/],
    ["another stream's token", { method: 'GET', url: '/portforward?port=22', upgrade: 'kubevmm-console' }, 400, 'InvalidRequest', /"kubevmm-portforward" only/],
    ['no Upgrade header', { method: 'GET', url: '/console' }, 400, 'InvalidRequest', /"kubevmm-console" only/],
  ])('refuses %s', (_what, req, status, reason, message) => {
    expect(parseUpgrade(req)).toEqual({ refusal: { status, body: { reason, message: expect.stringMatching(message) } } });
  });
});

describe('switchingProtocols', () => {
  it('answers 101 with the stream token and extra headers, ending the head', () => {
    expect(switchingProtocols('kubevmm-vnc')).toBe('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: kubevmm-vnc\r\n\r\n');
    expect(switchingProtocols('kubevmm-console', { 'kubevmm-console-mode': 'read-only' })).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: kubevmm-console\r\nkubevmm-console-mode: read-only\r\n\r\n',
    );
  });
});
