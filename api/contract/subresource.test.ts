import { BEARER_PROTOCOL_PREFIX, browserProtocols, failureStatus, imageUploadPath, isImagePath, kubeStatus, parseImageUploadPath, parseSubresourcePath, selectStreamProtocol, STREAM_PROTOCOL, subresourcePath } from './subresource.js';

describe('subresource paths', () => {
  it('round-trip: what the CLI builds is what the server reads', () => {
    const requests = [
      { namespace: 'team-a', name: 'web-1', subresource: 'console' as const },
      { namespace: 'team-a', name: 'web-1', subresource: 'vnc' as const },
      { namespace: 'team-a', name: 'web-1', subresource: 'metrics' as const },
      { namespace: 'team-a', name: 'web-1', subresource: 'portforward' as const, port: 22 },
    ];
    for (const request of requests) expect(parseSubresourcePath(subresourcePath(request))).toEqual({ ok: true, request });
  });

  it('puts the VM under the group, version and namespace the APIService serves', () => {
    expect(subresourcePath({ namespace: 'ns', name: 'vm', subresource: 'portforward', port: 8080 })).toBe('/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/vm/portforward?port=8080');
  });

  it('refuses to build a path from a bad name, so nothing unchecked reaches the URL', () => {
    expect(() => subresourcePath({ namespace: 'ns', name: '../pods/x', subresource: 'console' })).toThrow(/name/);
  });

  it('answers 404 for paths of other resources and unknown subresources, naming the known ones', () => {
    expect(parseSubresourcePath('/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/pods/p/exec')).toMatchObject({ ok: false, refusal: { code: 404 } });
    expect(parseSubresourcePath('/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/vm/exec')).toEqual({
      ok: false,
      refusal: { code: 404, message: 'virtualmachines has no subresource "exec"; there are console, vnc, portforward, metrics' },
    });
  });

  it('answers 400 naming the field for a bad port, a missing port, an extra parameter or a bad name', () => {
    const base = '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/vm';
    expect(parseSubresourcePath(`${base}/portforward?port=70000`)).toEqual({ ok: false, refusal: { code: 400, message: 'port: port must be 1-65535' } });
    expect(parseSubresourcePath(`${base}/portforward`)).toMatchObject({ ok: false, refusal: { code: 400, message: expect.stringMatching(/^port: /) } });
    expect(parseSubresourcePath(`${base}/portforward?port=22.5`)).toMatchObject({ ok: false, refusal: { code: 400 } });
    expect(parseSubresourcePath(`${base}/console?command=sh`)).toMatchObject({ ok: false, refusal: { code: 400, message: expect.stringMatching(/command/) } });
    expect(parseSubresourcePath('/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/Web_1/console')).toMatchObject({ ok: false, refusal: { code: 400, message: expect.stringMatching(/^name: /) } });
    expect(parseSubresourcePath('/apis/subresources.kubevmm.io/v1alpha1/namespaces/%E0%A4%A/virtualmachines/vm/console')).toMatchObject({ ok: false, refusal: { code: 400 } });
  });
});

describe('stream subprotocols', () => {
  it('a browser offers the stream protocol and its token base64url-encoded without padding', () => {
    const [stream, bearer] = browserProtocols('abc.def?');
    expect(stream).toBe(STREAM_PROTOCOL);
    expect(bearer).toBe(`${BEARER_PROTOCOL_PREFIX}YWJjLmRlZj8`);
    expect(bearer).toMatch(/^[A-Za-z0-9._-]+$/); // a valid subprotocol token
    expect(browserProtocols('é>')[1]).toBe(`${BEARER_PROTOCOL_PREFIX}w6k-`); // UTF-8, and - for +
  });

  it('the server selects the stream protocol and never a bearer one, even when that is all it is offered', () => {
    expect(selectStreamProtocol(browserProtocols('t'))).toBe(STREAM_PROTOCOL);
    expect(selectStreamProtocol([`${BEARER_PROTOCOL_PREFIX}dA`])).toBeUndefined();
    expect(selectStreamProtocol(['v4.channel.k8s.io'])).toBeUndefined();
  });
});

describe('Status', () => {
  it('a refusal is a Kubernetes Status that the client-side schema reads back', () => {
    const status = failureStatus('Forbidden', 'no', { name: 'vm' });
    expect(kubeStatus.parse(JSON.parse(JSON.stringify(status)))).toEqual(status);
    expect(status.code).toBe(403);
  });

  it('reads the API server\'s own refusals, which may lack a message', () => {
    expect(kubeStatus.parse({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 503, metadata: {} })).toMatchObject({ message: '', reason: '' });
  });
});

describe('parseSubresourcePath reads only what the API server authorized', () => {
  const base = '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns1/virtualmachines/vm1';

  it('never lets the query replace the namespace, the name or the subresource', () => {
    for (const target of [`${base}/console?namespace=ns2&name=vm2`, `${base}/metrics?subresource=portforward&port=22`, `${base}/console?name=vm2`]) {
      expect(parseSubresourcePath(target)).toMatchObject({ ok: false, refusal: { code: 400, message: expect.stringMatching(/^query parameter "(namespace|subresource|name|port)"/) } });
    }
    expect(parseSubresourcePath(`${base}/portforward?port=22&port=23`)).toMatchObject({ ok: false, refusal: { code: 400, message: expect.stringMatching(/more than once/) } });
    expect(parseSubresourcePath(`${base}/portforward?port=22&name=vm2`)).toMatchObject({ ok: false, refusal: { code: 400 } });
  });

  it('refuses dot segments, plain or percent-encoded, instead of resolving them', () => {
    for (const target of [
      '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns1/virtualmachines/../console',
      '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns1/virtualmachines/%2e%2e/console',
      '/apis/subresources.kubevmm.io/v1alpha1/namespaces/%2E/virtualmachines/vm1/console',
      '/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns1/virtualmachines/vm1/%2e',
    ]) {
      expect(parseSubresourcePath(target)).toMatchObject({ ok: false, refusal: { code: 400 } });
    }
    // resolved, this would have been ns2/vm2's console
    expect(parseSubresourcePath('/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns1/virtualmachines/vm1/../../../ns2/virtualmachines/vm2/console')).toMatchObject({ ok: false, refusal: { code: 404 } });
  });

  it('refuses a slash smuggled into a name', () => {
    expect(parseSubresourcePath('/apis/subresources.kubevmm.io/v1alpha1/namespaces/ns1/virtualmachines/vm1%2Fx/console')).toMatchObject({ ok: false, refusal: { code: 400, message: expect.stringMatching(/^name: /) } });
  });
});


describe('virtualmachineimages/upload paths', () => {
  const base = '/apis/subresources.kubevmm.io/v1alpha1/namespaces/team-a/virtualmachineimages';
  it('builds and reads back the upload path, and tells it from VM paths', () => {
    const path = imageUploadPath({ namespace: 'team-a', name: 'debian-12.v2' });
    expect(path).toBe(`${base}/debian-12.v2/upload`);
    expect(parseImageUploadPath(path)).toEqual({ ok: true, request: { namespace: 'team-a', name: 'debian-12.v2', subresource: 'upload' } });
    expect(isImagePath(path)).toBe(true);
    expect(isImagePath('/apis/subresources.kubevmm.io/v1alpha1/namespaces/team-a/virtualmachines/web/console')).toBe(false);
  });

  it.each([
    [`${base}/debian-12/download`, 404, /has no subresource "download"/],
    [`${base}/debian-12/upload?offset=5`, 400, /takes no query parameters/],
    [`${base}/%2e%2e/upload`, 400, /"\.\." path segments are not allowed/],
    [`${base}/Debian/upload`, 400, /name/],
    [`${base}/debian-12/upload/more`, 404, /is not a subresource/],
  ])('refuses %s with %d', (path, code, message) => {
    const parsed = parseImageUploadPath(path);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.refusal).toEqual({ code, message: expect.stringMatching(message) });
  });
});
