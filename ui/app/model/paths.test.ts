import { kubevmmPath, parseRoute, routeHash, vmEventsPath, vmSubresourcePath, webSocketUrl, type Route } from './paths.js';

describe('API paths', () => {
  it('are relative to the page and go through the relay prefix', () => {
    expect(kubevmmPath('virtualmachines', 'team-a', 'web')).toBe('k8s/apis/kubevmm.io/v1alpha1/namespaces/team-a/virtualmachines/web');
    expect(vmSubresourcePath('team-a', 'web', 'console')).toBe('k8s/apis/subresources.kubevmm.io/v1alpha1/namespaces/team-a/virtualmachines/web/console');
    expect(vmEventsPath('ns', 'web')).toBe('k8s/api/v1/namespaces/ns/events?fieldSelector=involvedObject.kind%3DVirtualMachine%2CinvolvedObject.name%3Dweb');
  });
  it('turns a page address into ws: or wss:, keeping a path prefix', () => {
    expect(webSocketUrl('k8s/x', 'https://console.example/kubevmm/#/ns/a')).toBe('wss://console.example/kubevmm/k8s/x');
    expect(webSocketUrl('k8s/x', 'http://127.0.0.1:8080/')).toBe('ws://127.0.0.1:8080/k8s/x');
  });
});

describe('routes', () => {
  it('round-trip through the hash', () => {
    const routes: Route[] = [{ page: 'inventory' }, { page: 'inventory', namespace: 'a' }, { page: 'create', namespace: 'a' }, { page: 'vm', namespace: 'a', name: 'web', tab: 'vnc' }];
    for (const r of routes) expect(parseRoute(routeHash(r))).toEqual(r);
  });
  it('reads an unknown tab as the summary and anything else as the inventory', () => {
    expect(parseRoute('#/ns/a/vm/web/nope')).toEqual({ page: 'vm', namespace: 'a', name: 'web', tab: 'summary' });
    expect(parseRoute('#/garbage')).toEqual({ page: 'inventory' });
  });
});
