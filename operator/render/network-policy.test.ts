import { parseLauncherNetworkPolicy, renderImageNetworkPolicies, renderLauncherNetworkPolicies } from './network-policy.js';

const operator = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kubevmm-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'operator' } } };

describe('launcher NetworkPolicies', () => {
  it('lets only the named peers reach the control port, the guest ports stay open, NBD only from launchers', () => {
    const [launchers, attachments] = renderLauncherNetworkPolicies('team', { controlFrom: [operator], guestFrom: [] });
    expect(launchers?.metadata).toMatchObject({ name: 'kubevmm-launchers', namespace: 'team' });
    expect(launchers?.spec?.podSelector.matchLabels).toMatchObject({ 'app.kubernetes.io/name': 'kubevmm-launcher' });
    expect(launchers?.spec?.ingress).toEqual([
      { from: [operator], ports: [{ protocol: 'TCP', port: 9500 }] },
      // everything but 9500: no `from`, so from anyone
      { ports: [{ protocol: 'TCP', port: 1, endPort: 9499 }, { protocol: 'TCP', port: 9501, endPort: 65535 }, { protocol: 'UDP', port: 1, endPort: 65535 }] },
    ]);
    expect(attachments?.spec?.podSelector.matchLabels).toMatchObject({ 'app.kubernetes.io/name': 'kubevmm-attachment' });
    expect(attachments?.spec?.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'kubevmm', 'app.kubernetes.io/name': 'kubevmm-launcher' } } }], ports: [{ protocol: 'TCP', port: 10809 }] }]);
  });

  it('narrows the guest ports to guestFrom when given', () => {
    const office = { ipBlock: { cidr: '10.1.0.0/16' } };
    const [launchers] = renderLauncherNetworkPolicies('team', { controlFrom: [operator], guestFrom: [office] });
    expect(launchers?.spec?.ingress?.[1]?.from).toEqual([office]);
  });

  it('parses the setting and names what is wrong with it', () => {
    expect(parseLauncherNetworkPolicy(JSON.stringify({ controlFrom: [operator] }))).toEqual({ controlFrom: [operator], guestFrom: [] });
    expect(() => parseLauncherNetworkPolicy('{')).toThrow(/KUBEVMM_LAUNCHER_NETWORK_POLICY\) is not JSON/);
    expect(() => parseLauncherNetworkPolicy('{"controlFrom": []}')).toThrow(/controlFrom: name at least the operator pods/);
    expect(() => parseLauncherNetworkPolicy('{"controlFrom": [{}], "guestfrom": []}')).toThrow(/guestfrom/);
  });

  it('lets importer pods take their API only from importerFrom, and source pods theirs only from importer pods of any namespace', () => {
    const relay = { namespaceSelector: operator.namespaceSelector, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'subresources' } } };
    const [importers, sources] = renderImageNetworkPolicies('shared', { controlFrom: [operator, { ipBlock: { cidr: '10.9.0.0/16' } }], guestFrom: [], importerFrom: [operator, relay] });
    expect(importers).toMatchObject({ metadata: { name: 'kubevmm-importers', namespace: 'shared' }, spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'kubevmm-importer' } }, policyTypes: ['Ingress'] } });
    expect(importers?.spec.ingress).toEqual([{ from: [operator, relay], ports: [{ protocol: 'TCP', port: 9501 }] }]);
    expect(sources).toMatchObject({ metadata: { name: 'kubevmm-image-sources', namespace: 'shared' }, spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'kubevmm-image-source' } } } });
    expect(sources?.spec.ingress).toEqual([{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'kubevmm', 'app.kubernetes.io/name': 'kubevmm-importer' } } }], ports: [{ protocol: 'TCP', port: 9502 }] }]);
    // a setting written before importerFrom existed: the control port's peers
    expect(renderImageNetworkPolicies('shared', { controlFrom: [operator], guestFrom: [] })[0]?.spec.ingress[0]?.from).toEqual([operator]);
  });
});
