import { failureStatus } from '../../api/contract/subresource.js';
import { refusalError, refusalMessage, StreamRefusedError, type StreamTarget } from './refusal.js';

const console_: StreamTarget = { namespace: 'team-a', name: 'web', subresource: 'console' };
const vnc: StreamTarget = { ...console_, subresource: 'vnc' };

/** The API server's own refusal when RBAC says no (before it proxies anything). */
const apiServerForbidden = JSON.stringify({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'virtualmachines.subresources.kubevmm.io "web" is forbidden: User "bob" cannot get resource "virtualmachines/console" in API group "subresources.kubevmm.io" in the namespace "team-a"',
  reason: 'Forbidden',
  details: { name: 'web', group: 'subresources.kubevmm.io', kind: 'virtualmachines' },
  code: 403,
});
/** The API server's answer for a group that no APIService serves. */
const noSuchGroup = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 });

/** The control characters in `text`. */
const controls = (text: string) => [...text].filter((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f'));

describe('refusal messages', () => {
  it('403 names the verb, the subresource, the group, the namespace and the role to ask for, and keeps what the server said', () => {
    const message = refusalMessage(console_, 403, apiServerForbidden);
    expect(message).toMatch(/^you may not get virtualmachines\/console in subresources\.kubevmm\.io \(namespace "team-a"\): ask your cluster admin for a binding to the kubevmm-vm-user role/);
    expect(message).toContain('(the server said: virtualmachines.subresources.kubevmm.io "web" is forbidden: User "bob"');
  });

  it('404 tells a missing subresource API (the APIService to check) from a missing VM', () => {
    expect(refusalMessage(console_, 404, noSuchGroup)).toMatch(/^kubevmm's subresource API is not installed or not available in this cluster: check `kubectl get apiservice v1alpha1\.subresources\.kubevmm\.io`/);
    expect(refusalMessage(console_, 404, '404 page not found')).toContain('kubectl get apiservice v1alpha1.subresources.kubevmm.io');
    const vmMissing = JSON.stringify(failureStatus('NotFound', 'virtualmachines "web" not found', { name: 'web' }));
    expect(refusalMessage(console_, 404, vmMissing)).toBe('virtual machine "web" was not found in namespace "team-a": check the name and -n/--namespace (the server said: virtualmachines "web" not found)');
  });

  it('409 says how to start the VM, or, for vnc on a VM without a display, which field gives it one', () => {
    const stopped = JSON.stringify(failureStatus('Conflict', 'the VM is Stopped: it has no launcher pod', { name: 'web' }));
    expect(refusalMessage(console_, 409, stopped)).toMatch(/^virtual machine "web" is not running: start it with `kubevmm start web -n team-a`/);
    expect(refusalMessage(vnc, 409, stopped)).toMatch(/is not running: start it with `kubevmm start web -n team-a`/);
    const noDisplay = JSON.stringify(failureStatus('Conflict', 'NoDisplay: the VM has no VNC display', { name: 'web' }));
    expect(refusalMessage(vnc, 409, noDisplay)).toMatch(/^virtual machine "web" has no VNC display: set spec.devices.graphics: vnc/);
  });

  it.each([
    ['TooManySessions', 'VM team-a/web: 64 port-forward sessions are open on this VM; close one and try again (TooManySessions)', /^virtual machine "web" has the most port-forward sessions open .*close one/],
    ['NoNetwork', 'VM team-a/web: this VM has no network interface (spec.interfaces is []) (NoNetwork)', /^virtual machine "web" has no network interface to forward to: add one to spec\.interfaces/],
    ['NoDisplay', 'VM team-a/web: the VM has no VNC display (NoDisplay)', /^virtual machine "web" has no VNC display: set spec\.devices\.graphics: vnc/],
    ['WrongState (paused)', 'VM team-a/web: cannot forward a guest port while the vm is paused (WrongState)', /^virtual machine "web" is paused: resume it with `kubevmm unpause web -n team-a`/],
    ['WrongState (stopping)', 'VM team-a/web: cannot forward a guest port while the vm is stopping (WrongState)', /^virtual machine "web" is not running \(it is stopping\): start it with/],
    ['TooManySessions from an older server', 'VM team-a/web: 64 port-forward sessions are open on this VM; close one and try again', /has the most port-forward sessions open/],
  ])('409 %s says its own fix', (_reason, message, expected) => {
    const body = JSON.stringify(failureStatus('Conflict', message, { name: 'web' }));
    expect(refusalMessage({ ...console_, subresource: 'portforward' }, 409, body)).toMatch(expected);
  });

  it("503 about the VM (a closed guest port, a stream limit) says the server's words, not that the API is missing", () => {
    const body = JSON.stringify(failureStatus('ServiceUnavailable', 'VM team-a/web: nothing accepts connections on guest port 22 (connection refused): start a server on that port in the guest (GuestPortClosed)', { name: 'web' }));
    expect(refusalMessage({ ...console_, subresource: 'portforward' }, 503, body)).toBe(
      'virtualmachines/portforward of "web" is not available: VM team-a/web: nothing accepts connections on guest port 22 (connection refused): start a server on that port in the guest (GuestPortClosed)',
    );
  });

  it("shows control characters in the server's words as ?, so they cannot drive the terminal", () => {
    const evil = JSON.stringify(failureStatus('Forbidden', 'no\u001b]0;owned\u0007 \u001b[2J\r\nkubevmm: fake line', { name: 'web' }));
    const message = refusalMessage(console_, 403, evil);
    expect(controls(message)).toEqual([]);
    expect(message).toContain('no?]0;owned? ?[2J??kubevmm: fake line');
    expect(controls(refusalMessage(console_, 502, 'bad\u001b[31m gateway'))).toEqual([]);
    const about = JSON.stringify(failureStatus('ServiceUnavailable', 'x\u001b[2Jy', { name: 'web' }));
    expect(controls(refusalMessage(console_, 503, about))).toEqual([]);
  });

  it('503 points at the APIService and the subresource server', () => {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'service unavailable', reason: 'ServiceUnavailable', code: 503 });
    expect(refusalMessage(console_, 503, body)).toMatch(/^kubevmm's subresource API is unavailable: check `kubectl get apiservice v1alpha1\.subresources\.kubevmm\.io` and the subresource server's pods/);
  });

  it('401 sends the user back to their credentials', () => {
    expect(refusalMessage(console_, 401, '')).toBe("the API server did not accept the kubeconfig's credentials: log in again or check the context's user");
  });

  it('cuts a body that is not a Status (a proxy error page) to one short line', () => {
    const page = `<html>\n<body>${'x'.repeat(1000)}</body></html>`;
    const message = refusalMessage(console_, 502, page);
    expect(message).toMatch(/^the API server refused virtualmachines\/console of "web" with HTTP 502 \(the server said: <html> <body>x+\.\.\.\)$/);
    expect(message.length).toBeLessThan(300);
  });

  it('is a typed error carrying the code and the parsed Status', () => {
    const err = refusalError(console_, 403, apiServerForbidden);
    expect(err).toBeInstanceOf(StreamRefusedError);
    expect(err.code).toBe(403);
    expect(err.status?.reason).toBe('Forbidden');
  });
});
