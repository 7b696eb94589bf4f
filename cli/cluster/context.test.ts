import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigSource, loadContext } from './context.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://10.0.0.1:6443/" } }]
users: [{ name: u, user: { token: t } }]
contexts:
  - { name: prod, context: { cluster: c, user: u, namespace: team-a } }
  - { name: dev, context: { cluster: c, user: u } }
current-context: prod
`;

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-context-'));
  file = join(dir, 'config');
  await writeFile(file, KUBECONFIG);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the kubeconfig, as kubectl picks it', () => {
  it('--kubeconfig, then $KUBECONFIG, then ~/.kube/config; none is an error naming the ways to give one', () => {
    expect(kubeconfigSource({ kubeconfig: '/k' }, { KUBECONFIG: '/env' })).toBe('/k');
    expect(kubeconfigSource({}, { KUBECONFIG: '/a:/b', HOME: '/home/me' })).toBe('/a:/b');
    expect(kubeconfigSource({}, { HOME: '/home/me' }, (f) => f === '/home/me/.kube/config')).toBe('/home/me/.kube/config');
    expect(kubeconfigSource({}, { HOME: '/home/me' }, () => false)).toBeUndefined();
  });

  it('takes the context and namespace from the kubeconfig, flags winning', () => {
    expect(loadContext({ kubeconfig: file })).toMatchObject({ namespace: 'team-a', server: 'https://10.0.0.1:6443', source: file, contextName: 'prod' });
    expect(loadContext({ kubeconfig: file, context: 'dev' })).toMatchObject({ namespace: 'default', contextName: 'dev' });
    expect(loadContext({ kubeconfig: file, context: 'dev', namespace: 'x' }).namespace).toBe('x');
  });

  it('a kubeconfig that cannot be used: the message names the file and what it has', () => {
    expect(() => loadContext({ kubeconfig: join(dir, 'absent') })).toThrow(`cannot read the kubeconfig ${join(dir, 'absent')}: ENOENT`);
    expect(() => loadContext({ kubeconfig: file, context: 'staging' })).toThrow(`the kubeconfig ${file} has no context "staging"; it has prod, dev`);
  });
});
