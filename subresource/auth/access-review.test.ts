import { kubeStatus } from '../../api/contract/subresource.js';
import { accessReview, interpretAccessReview, verbOf, type AccessQuestion } from './access-review.js';

const question: AccessQuestion = {
  identity: { user: 'viewer', uid: 'u-9', groups: ['team-a'], extra: { scopes: ['x'] } },
  request: { namespace: 'team-a', name: 'web-1', subresource: 'console' },
  verb: 'get',
};

describe('accessReview', () => {
  it('asks about the user of the request, never the server, on the VM\'s subresource in subresources.kubevmm.io', () => {
    expect(accessReview(question)).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: 'viewer',
        uid: 'u-9',
        groups: ['team-a'],
        extra: { scopes: ['x'] },
        resourceAttributes: { group: 'subresources.kubevmm.io', version: 'v1alpha1', resource: 'virtualmachines', subresource: 'console', namespace: 'team-a', name: 'web-1', verb: 'get' },
      },
    });
  });

  it('uses the verb the API server derives: opening a WebSocket (GET) is get', () => {
    expect(verbOf('GET')).toBe('get');
    expect(verbOf('post')).toBe('create');
    expect(verbOf('CONNECT')).toBeUndefined();
  });
});

describe('interpretAccessReview', () => {
  it('allows only on an explicit allowed: true', () => {
    expect(interpretAccessReview({ status: { allowed: true } }, question)).toEqual({ allowed: true });
  });

  it('refuses with a 403 Status naming the user, verb, resource, subresource, namespace and the role that grants it', () => {
    const decision = interpretAccessReview({ status: { allowed: false, reason: 'no RBAC policy matched' } }, question);
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(kubeStatus.parse(decision.status)).toMatchObject({ code: 403, reason: 'Forbidden', details: { name: 'web-1' } });
    expect(decision.status.message).toBe(
      'virtualmachines.subresources.kubevmm.io "web-1" is forbidden: user "viewer" cannot get resource "virtualmachines/console" in API group ' +
        '"subresources.kubevmm.io" in the namespace "team-a" (no RBAC policy matched); a binding to a role that grants get on virtualmachines/console ' +
        'is needed, such as the VM-user role (aggregated into edit and admin)',
    );
  });

  it('fails closed with 503 when the answer cannot be read', () => {
    for (const answer of [undefined, {}, { status: { allowed: 'yes' } }]) {
      expect(interpretAccessReview(answer, question)).toMatchObject({ allowed: false, status: { code: 503, reason: 'ServiceUnavailable' } });
    }
  });

  it('keeps an evaluation error for the log, not for the user', () => {
    const decision = interpretAccessReview({ status: { allowed: false, evaluationError: 'webhook authorizer timed out' } }, question);
    expect(decision).toMatchObject({ allowed: false, log: expect.stringContaining('webhook authorizer timed out') });
    expect(decision.allowed === false && decision.status.message).not.toContain('webhook');
  });
});
