import { ApiException } from '@kubernetes/client-node';
import { ClusterError, explainFailure, type FailedCall } from './api-errors.js';

const call = (verb: FailedCall['verb'] = 'patch'): FailedCall => ({ verb, name: 'web', namespace: 'team-a', server: 'https://10.0.0.1:6443', source: '/home/me/.kube/config', contextName: 'prod' });

/** The API server's answers, as kube-apiserver v1.37 sends them (captured from test/cluster). */
const status = (code: number, reason: string, message: string, details?: object) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
const answer = (code: number, body: string) => new ApiException(code, 'failed', body, {});
const FORBIDDEN = answer(
  403,
  status(403, 'Forbidden', 'virtualmachines.kubevmm.io "web" is forbidden: User "system:serviceaccount:team-a:viewer" cannot patch resource "virtualmachines" in API group "kubevmm.io" in the namespace "team-a"', { name: 'web', group: 'kubevmm.io', kind: 'virtualmachines' }),
);
const VM_NOT_FOUND = answer(404, status(404, 'NotFound', 'virtualmachines.kubevmm.io "web" not found', { name: 'web', group: 'kubevmm.io', kind: 'virtualmachines' }));
/** No CRD: the path does not exist, and the server says so in plain text. */
const NO_CRD = answer(404, '404 page not found\n');

/** node-fetch's error when nothing listens (FetchError: type system, code ECONNREFUSED). */
function refused(): Error {
  return Object.assign(new Error('request to https://10.0.0.1:6443/apis/kubevmm.io/v1alpha1/namespaces/team-a/virtualmachines/web failed, reason: connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED', type: 'system' });
}

describe('messages for failed API calls', () => {
  it('RBAC: names the verb, the resource, the VM, the namespace and the role to ask for', () => {
    const err = explainFailure(FORBIDDEN, call());
    expect(err.message).toMatch(/^you may not patch virtualmachines "web" in namespace team-a \(kubevmm\.io\): ask for the kubevmm-vm-user role \(docs\/rbac\.md\) \(the server said: .*cannot patch resource/);
    expect(err).toMatchObject({ code: 403, transient: false });
  });

  it('RBAC on a watch (the client gives only the status code): the verb of the call', () => {
    expect(explainFailure(Object.assign(new Error('Forbidden'), { statusCode: 403 }), call('watch')).message).toBe(
      'you may not watch virtualmachines "web" in namespace team-a (kubevmm.io): ask for the kubevmm-vm-user role (docs/rbac.md)',
    );
  });

  it('a 403 that is not RBAC says what the server said', () => {
    const terminating = answer(403, status(403, 'Forbidden', 'unable to create new content in namespace team-a because it is being terminated'));
    expect(explainFailure(terminating, call('apply')).message).toBe('the API server refused to apply virtualmachine "web" in namespace team-a: unable to create new content in namespace team-a because it is being terminated');
  });

  it('a missing VM: names the namespace and how to list the VMs there', () => {
    expect(explainFailure(VM_NOT_FOUND, call('get')).message).toBe('virtualmachine "web" not found in namespace team-a: see the VMs there with `kubectl get vm -n team-a`, or give -n/--namespace');
  });

  it('no CRD: kubevmm is not installed, and how to install it', () => {
    expect(explainFailure(NO_CRD, call('get')).message).toBe(
      'kubevmm is not installed in this cluster (no virtualmachines.kubevmm.io): helm install kubevmm helm/kubevmm --namespace kubevmm-system --create-namespace (README, "Installing with Helm")',
    );
  });

  it('no server: names the server, the kubeconfig and the context, and may be retried', () => {
    const err = explainFailure(refused(), call('get'));
    expect(err.message).toBe('cannot reach the API server https://10.0.0.1:6443 (kubeconfig /home/me/.kube/config, context prod): connect ECONNREFUSED 10.0.0.1:6443: check that the cluster is up and that --kubeconfig/--context name it');
    expect(err.transient).toBe(true);
  });

  it('a server the kubeconfig CA does not vouch for: says to check the CA', () => {
    const tls = Object.assign(new Error('request to https://10.0.0.1:6443/x failed, reason: unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(explainFailure(tls, call('get')).message).toBe(
      "cannot talk to the API server https://10.0.0.1:6443 (kubeconfig /home/me/.kube/config, context prod) securely: unable to verify the first certificate: check the cluster's certificate-authority in that kubeconfig",
    );
  });

  it('credentials refused, a conflict, an invalid change, a server error', () => {
    expect(explainFailure(answer(401, status(401, 'Unauthorized', 'Unauthorized')), call()).message).toBe(
      'the API server https://10.0.0.1:6443 did not accept the credentials of context prod in kubeconfig /home/me/.kube/config: log in again or fix that context\'s user (the server said: Unauthorized)',
    );
    expect(explainFailure(answer(409, status(409, 'Conflict', 'the object has been modified')), call()).message).toMatch(/^virtualmachine "web" was changed by someone else at the same time: run the command again/);
    const invalid = explainFailure(answer(422, status(422, 'Invalid', 'VirtualMachine.kubevmm.io "web" is invalid: spec.disks[1]: hotpluggable disks use bus virtio or scsi')), call());
    expect(invalid).toMatchObject({ code: 422, message: 'the API server refused the change to virtualmachine "web" (the server said: VirtualMachine.kubevmm.io "web" is invalid: spec.disks[1]: hotpluggable disks use bus virtio or scsi)' });
    expect(explainFailure(answer(503, 'service unavailable'), call('get'))).toMatchObject({ transient: true, message: 'the API server https://10.0.0.1:6443 answered HTTP 503 to get virtualmachine "web" (the server said: service unavailable)' });
  });

  it('what the server said reaches the terminal without control characters', () => {
    const hostile = answer(422, status(422, 'Invalid', 'bad\u001b[2J\u001b]0;title\u0007 value'));
    expect(explainFailure(hostile, call()).message).toBe('the API server refused the change to virtualmachine "web" (the server said: bad?[2J?]0;title? value)');
  });

  it('passes a ClusterError through unchanged', () => {
    const err = new ClusterError('already explained');
    expect(explainFailure(err, call())).toBe(err);
  });
});
