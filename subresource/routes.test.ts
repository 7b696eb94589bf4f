import { apiResourceList, routeOf } from './routes.js';

describe('routeOf', () => {
  it('answers the probes for anyone, with GET or HEAD', () => {
    expect(routeOf('GET', '/healthz')).toEqual({ kind: 'probe', probe: 'healthz' });
    expect(routeOf('HEAD', '/livez')).toEqual({ kind: 'probe', probe: 'healthz' });
    expect(routeOf('GET', '/readyz')).toEqual({ kind: 'probe', probe: 'readyz' });
    expect(routeOf('POST', '/readyz')).toMatchObject({ kind: 'refused', code: 405 });
  });

  it('serves the discovery documents the aggregator and kubectl read', () => {
    expect(routeOf('GET', '/apis')).toMatchObject({ kind: 'document', body: { kind: 'APIGroupList', groups: [{ name: 'subresources.kubevmm.io', preferredVersion: { groupVersion: 'subresources.kubevmm.io/v1alpha1' } }] } });
    expect(routeOf('GET', '/apis/subresources.kubevmm.io')).toMatchObject({ kind: 'document', body: { kind: 'APIGroup', versions: [{ version: 'v1alpha1' }] } });
    expect(routeOf('GET', '/apis/subresources.kubevmm.io/v1alpha1')).toEqual({ kind: 'document', body: apiResourceList() });
    expect(routeOf('GET', '/apis/subresources.kubevmm.io/v1alpha1/')).toMatchObject({ kind: 'document' });
    expect(routeOf('DELETE', '/apis/subresources.kubevmm.io/v1alpha1')).toMatchObject({ kind: 'refused', code: 405 });
  });

  it('lists exactly the four VM subresources with get and the image upload with get and update, namespaced, each with a kind (clients drop entries without one)', () => {
    const list = apiResourceList() as { groupVersion: string; resources: { name: string; namespaced: boolean; verbs: string[]; kind: string }[] };
    expect(list.groupVersion).toBe('subresources.kubevmm.io/v1alpha1');
    expect(list.resources.map((r) => `${r.name} ${r.verbs.join(',')}`)).toEqual([
      'virtualmachines/console get',
      'virtualmachines/vnc get',
      'virtualmachines/portforward get',
      'virtualmachines/metrics get',
      'virtualmachineimages/upload get,update',
    ]);
    for (const r of list.resources) expect(r).toMatchObject({ namespaced: true, kind: expect.stringMatching(/^VirtualMachine/) });
  });

  it('answers OpenAPI with 404, which the aggregator skips, and other paths with 404 naming what is served', () => {
    expect(routeOf('GET', '/openapi/v2')).toMatchObject({ kind: 'refused', code: 404, message: expect.stringMatching(/publishes no OpenAPI document/) });
    expect(routeOf('GET', '/openapi/v3')).toMatchObject({ kind: 'refused', code: 404 });
    expect(routeOf('GET', '/openapi/v3/apis/subresources.kubevmm.io/v1alpha1')).toMatchObject({ kind: 'refused', code: 404 });
    expect(routeOf('GET', '/api/v1/pods')).toMatchObject({ kind: 'refused', code: 404, message: expect.stringMatching(/virtualmachines\/NAME\/\{console,vnc,portforward,metrics\}/) });
  });

  it('hands everything under the group version to the subresource checks (they parse the path)', () => {
    expect(routeOf('GET', '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/vm/console')).toEqual({ kind: 'subresource' });
    expect(routeOf('POST', '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/pods/p/exec')).toEqual({ kind: 'subresource' });
  });
});
