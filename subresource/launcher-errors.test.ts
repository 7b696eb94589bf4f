import { launcherFailureStatus, LauncherContractError, LauncherIdentityError, LauncherRefusedError, LauncherUnreachableError } from './launcher-errors.js';

const portforward = { namespace: 'ns', name: 'web', subresource: 'portforward', port: 22 } as const;

describe('launcherFailureStatus', () => {
  it("passes on a closed guest port (502) with the launcher's own words, not as a version mismatch", () => {
    const err = new LauncherRefusedError('nothing accepts connections on guest port 22 (connection refused): start a server on that port in the guest', 502, 'GuestPortClosed');
    const status = launcherFailureStatus(err, portforward);
    expect(status).toMatchObject({ code: 503, reason: 'ServiceUnavailable', details: { name: 'web' } });
    expect(status.message).toBe('VM ns/web: nothing accepts connections on guest port 22 (connection refused): start a server on that port in the guest (GuestPortClosed)');
  });

  it('passes on a silent guest port (504) as the timeout it is', () => {
    const err = new LauncherRefusedError('guest port 22 did not answer within 10 s (a firewall in the guest dropping it)', 504, 'GuestPortTimeout');
    const status = launcherFailureStatus(err, portforward);
    expect(status).toMatchObject({ code: 503, reason: 'ServiceUnavailable' });
    expect(status.message).toMatch(/^VM ns\/web: guest port 22 did not answer within 10 s.*\(GuestPortTimeout\)$/);
    expect(status.message).not.toMatch(/another kubevmm version/);
  });

  it.each([
    ['unreachable', new LauncherUnreachableError('the launcher at 10.244.3.9 cannot be reached: connect ECONNREFUSED 10.244.3.9:9443')],
    ['timed out', new LauncherUnreachableError('the launcher at 10.244.3.9 did not answer in time', true)],
    ['not the launcher', new LauncherIdentityError('the server at 10.244.3.9 is not the launcher of VM 2f1c: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match')],
    ['off contract', new LauncherContractError('the launcher at 10.244.3.9 answered GET /console with 200 instead of 101 Switching Protocols')],
    ['anything else', new Error('connect ECONNRESET 10.244.3.9:9443')],
  ])('tells the user about a launcher that is %s without its address or TLS detail', (_what, err) => {
    const status = launcherFailureStatus(err, portforward);
    expect(status.message).toMatch(/VM ns\/web/);
    expect(status.message).not.toMatch(/10\.244|ERR_TLS|ECONN|Hostname/);
  });
});
