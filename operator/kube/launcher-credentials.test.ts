import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { testAuthority } from '../../harness/pki.js';
import type { LauncherAuthority } from '../pki/launcher.js';
import { loadLauncherAuthority } from './launcher-ca.js';
import { LauncherCredentials } from './launcher-credentials.js';

const DAY = 24 * 3600_000;
const vm = (uid: string): VirtualMachine => ({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'team', uid }, spec: {} });

/** A Secret store that records writes; `existing` names Secrets that exist before. */
function store(existing: string[] = []) {
  const names = new Set(existing);
  const writes: { verb: 'create' | 'update'; secret: V1Secret }[] = [];
  return {
    writes,
    async createSecret(secret: V1Secret): Promise<'created' | 'exists'> {
      const name = secret.metadata!.name!;
      if (names.has(name)) return 'exists';
      names.add(name);
      writes.push({ verb: 'create', secret });
      return 'created';
    },
    async replaceSecret(secret: V1Secret): Promise<void> {
      writes.push({ verb: 'update', secret });
    },
  };
}

const data = (s: V1Secret, key: string) => Buffer.from(s.data![key]!, 'base64').toString();

let authority: LauncherAuthority;
beforeAll(async () => {
  authority = await testAuthority();
});

describe('LauncherCredentials', () => {
  it('creates the VM Secret once, with a certificate for its UID and a stable NBD key', async () => {
    const api = store();
    const creds = new LauncherCredentials(api, authority);
    await creds.ensure(vm('uid-1'));
    await creds.ensure(vm('uid-1')); // a restart of the VM reuses it
    expect(api.writes.map((w) => w.verb)).toEqual(['create']);
    const secret = api.writes[0]!.secret;
    expect(secret).toMatchObject({ type: 'kubernetes.io/tls', metadata: { name: 'web-launcher-credentials', namespace: 'team', ownerReferences: [{ kind: 'VirtualMachine', uid: 'uid-1', controller: true }] } });
    expect(new X509Certificate(data(secret, 'tls.crt')).subjectAltName).toBe('DNS:uid-1.launcher.kubevmm.invalid, DNS:launcher.kubevmm.invalid');
    expect(data(secret, 'ca.crt')).toBe(authority.ca.certPem);
    expect(data(secret, 'keys.psk')).toMatch(/^kubevmm:[0-9a-f]{64}$/);
  });

  it('replaces a Secret of the same name it cannot read (an earlier VM of that name), keeping the key derivation per UID', async () => {
    const api = store(['web-launcher-credentials']);
    const creds = new LauncherCredentials(api, authority);
    await creds.ensure(vm('uid-2'));
    expect(api.writes.map((w) => w.verb)).toEqual(['update']);
    const again = store(['web-launcher-credentials']);
    await new LauncherCredentials(again, authority).ensure(vm('uid-2'));
    expect(data(again.writes[0]!.secret, 'keys.psk')).toBe(data(api.writes[0]!.secret, 'keys.psk'));
    const other = store();
    await new LauncherCredentials(other, authority).ensure(vm('uid-3'));
    expect(data(other.writes[0]!.secret, 'keys.psk')).not.toBe(data(api.writes[0]!.secret, 'keys.psk'));
  });

  it('renews a served certificate with a third of its year left, once, then leaves it to reach the launcher', async () => {
    let now = new Date('2027-01-01T00:00:00Z');
    const api = store();
    const creds = new LauncherCredentials(api, authority, () => now);
    expect(await creds.renewIfDue(vm('uid-4'), new Date(now.getTime() + 200 * DAY))).toBe(false);
    expect(await creds.renewIfDue(vm('uid-4'), new Date(now.getTime() + 100 * DAY))).toBe(true);
    expect(await creds.renewIfDue(vm('uid-4'), new Date(now.getTime() + 100 * DAY))).toBe(false); // kubelet still syncing
    now = new Date(now.getTime() + 11 * 60_000);
    expect(await creds.renewIfDue(vm('uid-4'), new Date(now.getTime() + 100 * DAY))).toBe(true);
    expect(api.writes.length).toBe(2);
  });
});

describe('loadLauncherAuthority', () => {
  it('creates the CA when absent, and a second replica reads the same one', async () => {
    const secrets = new Map<string, V1Secret>();
    const api = {
      async getSecret(_ns: string, name: string) {
        return secrets.get(name);
      },
      async createSecret(s: V1Secret): Promise<'created' | 'exists'> {
        if (secrets.has(s.metadata!.name!)) return 'exists';
        secrets.set(s.metadata!.name!, s);
        return 'created';
      },
    };
    const first = await loadLauncherAuthority({ api, namespace: 'kubevmm-system', name: 'ca' });
    const second = await loadLauncherAuthority({ api, namespace: 'kubevmm-system', name: 'ca' });
    expect(second.ca).toEqual(first.ca);
    expect(second.deriveKey.equals(first.deriveKey)).toBe(true);
    expect(first.deriveKey.length).toBe(32);
    expect(new X509Certificate(first.ca.certPem).ca).toBe(true);
  });

  it('refuses a damaged CA Secret, saying how to start over', async () => {
    const api = { getSecret: async () => ({ data: { 'ca.crt': Buffer.from('junk').toString('base64') } }), createSecret: async () => 'exists' as const };
    await expect(loadLauncherAuthority({ api, namespace: 'kubevmm-system', name: 'ca' })).rejects.toThrow(/Secret kubevmm-system\/ca lacks ca\.crt, ca\.key, derive\.key; delete it to have a new CA made/);
  });

  it('writes a source pod its Secret in the claim’s namespace, owned by the pod, once per pod; the importer of a copy gets its client certificate', async () => {
    const image = { apiVersion: 'kubevmm.io/v1alpha1' as const, kind: 'VirtualMachineImage' as const, metadata: { name: 'debian', namespace: 'team-b', uid: 'img-uid' }, spec: { source: { pvc: { name: 'golden', namespace: 'shared' } } } };
    const api = store();
    const creds = new LauncherCredentials(api, authority);
    const pod = { name: 'kubevmm-source-img-uid', namespace: 'shared', uid: 'pod-uid' };
    await creds.ensureSource(image, pod, { 'kubevmm.io/source-for-uid': 'img-uid' });
    await creds.ensureSource(image, pod, { 'kubevmm.io/source-for-uid': 'img-uid' }); // asked again while the pod waits
    expect(api.writes.length).toBe(1);
    const secret = api.writes[0]!.secret;
    expect(secret.metadata).toMatchObject({ name: 'kubevmm-source-img-uid-credentials', namespace: 'shared', ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: 'pod-uid', controller: true }] });
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    const served = new X509Certificate(data(secret, 'tls.crt'));
    expect(served.subjectAltName).toBe('DNS:img-uid.source.kubevmm.invalid');
    expect(served.checkIssued(new X509Certificate(authority.ca.certPem))).toBe(true);

    await creds.ensureImporter(image, { claimCopy: true });
    const importer = api.writes[1]!.secret;
    expect(importer.metadata?.name).toBe('debian-importer-credentials');
    const client = new X509Certificate(data(importer, 'client.crt'));
    expect(client.subject).toContain('CN=kubevmm-importer img-uid');
    expect(client.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    await creds.ensureImporter({ ...image, metadata: { ...image.metadata, name: 'plain' } });
    expect(api.writes[2]!.secret.data?.['client.crt']).toBeUndefined();
  });
});
