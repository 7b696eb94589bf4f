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
