import { apiPathOf, isClientRoute, isInside, safeSegments, staticTargetOf } from './paths.js';

describe('apiPathOf: /k8s/<path>?<query> → /<path>?<query>', () => {
  it('maps an API path and keeps the query exactly as sent', () => {
    expect(apiPathOf('/k8s/api/v1/namespaces/default/pods?watch=1&labelSelector=a%3Db')).toEqual({ ok: true, path: '/api/v1/namespaces/default/pods?watch=1&labelSelector=a%3Db' });
    expect(apiPathOf('/k8s/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/web/vnc')).toEqual({ ok: true, path: '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/web/vnc' });
  });

  it('is undefined for paths outside /k8s (static files), including look-alikes', () => {
    expect(apiPathOf('/')).toBeUndefined();
    expect(apiPathOf('/k8sx/api')).toBeUndefined();
    expect(apiPathOf('/assets/k8s/api')).toBeUndefined();
  });

  it.each([
    ['/k8s/api/v1/../../etc/passwd', 'segment'],
    ['/k8s/api/v1/%2e%2e/%2E%2E/x', 'segment'],
    ['/k8s/./api', 'segment'],
    ['/k8s//api', 'segment'],
    ['/k8s/api%2fv1', 'encoded slash'],
    ['/k8s/api%5cv1', 'backslash'],
    ['/k8s/api%00', 'NUL'],
    ['/k8s/api/%zz', 'percent-encoding'],
    ['/k8s', 'give an API path'],
    ['/k8s/', 'give an API path'],
  ])('refuses %s', (target, why) => {
    const result = apiPathOf(target);
    expect(result).toMatchObject({ ok: false });
    expect((result as { reason: string }).reason).toContain(why);
  });

  it('refuses absolute-form request targets', () => {
    expect(safeSegments('http://evil.example/k8s/api')).toMatchObject({ ok: false, reason: expect.stringContaining('absolute-form') });
  });
});

describe('staticTargetOf: the file under the root a URL names', () => {
  it('names files under the root and the index for /', () => {
    expect(staticTargetOf('/srv/ui', '/assets/app-ABCDEFGH.js')).toEqual({ kind: 'file', file: '/srv/ui/assets/app-ABCDEFGH.js', relative: 'assets/app-ABCDEFGH.js' });
    expect(staticTargetOf('/srv/ui', '/')).toEqual({ kind: 'index' });
  });

  it('never leaves the root and never serves hidden files', () => {
    expect(staticTargetOf('/srv/ui', '/../secret')).toMatchObject({ ok: false });
    expect(staticTargetOf('/srv/ui', '/%2e%2e/secret')).toMatchObject({ ok: false });
    expect(staticTargetOf('/srv/ui', '/a/..%2f..%2fsecret')).toMatchObject({ ok: false });
    expect(staticTargetOf('/srv/ui', '/.git/config')).toEqual({ kind: 'not-found' });
  });

  it('tells client-side routes (the index) from missing assets (404)', () => {
    expect(isClientRoute('vms/default/web')).toBe(true);
    expect(isClientRoute('vms/default/web.v2')).toBe(true);
    expect(isClientRoute('assets/missing-ABCDEFGH.js')).toBe(false);
    expect(isClientRoute('favicon.ico')).toBe(false);
  });

  it('checks containment on whole path segments', () => {
    expect(isInside('/srv/ui', '/srv/ui/index.html')).toBe(true);
    expect(isInside('/srv/ui', '/srv/ui-secrets/key')).toBe(false);
    expect(isInside('/srv/ui', '/srv/ui')).toBe(false);
  });
});
