import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadContext } from './context.js';
import { connectOptions } from './stream.js';
import { kubeconfigFiles, tokenFilesOf } from './token-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-auth-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const kubeconfig = (user: string) =>
  `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: { server: "https://127.0.0.1:6443" }\nusers:\n- name: me\n  user:\n${user}\ncontexts:\n- name: x\n  context: { cluster: c, user: me, namespace: team-a }\ncurrent-context: x\n`;

async function authorization(user: string): Promise<unknown> {
  const file = join(dir, `kubeconfig-${Math.random()}`);
  await writeFile(file, kubeconfig(user));
  const options = await connectOptions(loadContext({ kubeconfig: file }));
  return (options.headers as Record<string, unknown>).Authorization;
}

describe('kubeconfig credentials on a stream', () => {
  it("reads kubectl's tokenFile, relative to the kubeconfig, without the file's newline", async () => {
    await writeFile(join(dir, 'token'), 'from-a-file\n');
    expect(await authorization('    tokenFile: token')).toBe('Bearer from-a-file');
    expect(await authorization(`    token-file: ${join(dir, 'token')}`)).toBe('Bearer from-a-file');
  });

  it('runs an exec credential plugin and sends the token it prints', async () => {
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-a-plugin' } });
    const plugin = join(dir, 'plugin.mjs');
    await writeFile(plugin, `process.stdout.write(${JSON.stringify(credential)});\n`);
    const exec = `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${process.execPath}\n      args: [${plugin}]\n      interactiveMode: Never`;
    expect(await authorization(exec)).toBe('Bearer from-a-plugin');
  });

  it('names the user and the file when a token file cannot be read', async () => {
    const file = join(dir, 'kubeconfig-missing');
    await writeFile(file, kubeconfig('    tokenFile: /nonexistent/token'));
    expect(() => loadContext({ kubeconfig: file })).toThrow('user "me": cannot read its tokenFile /nonexistent/token');
  });

  it("reads only the current context's user's token file: another user's missing file is no error", async () => {
    await writeFile(join(dir, 'mine'), 'mine\n');
    const file = join(dir, 'kubeconfig-two-users');
    await writeFile(
      file,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: { server: "https://127.0.0.1:6443" }\n` +
        `users:\n- name: me\n  user: { tokenFile: mine }\n- name: gone\n  user: { tokenFile: /nonexistent/token }\n` +
        `contexts:\n- name: x\n  context: { cluster: c, user: me }\n- name: old\n  context: { cluster: c, user: gone }\ncurrent-context: x\n`,
    );
    const options = await connectOptions(loadContext({ kubeconfig: file }));
    expect((options.headers as Record<string, unknown>).Authorization).toBe('Bearer mine');
    expect(() => loadContext({ kubeconfig: file, context: 'old' })).toThrow('user "gone": cannot read its tokenFile /nonexistent/token');
  });

  it("finds the kubeconfig files as kubectl does, and only users' token files", () => {
    expect(kubeconfigFiles({ kubeconfig: '/a' }, { KUBECONFIG: '/b:/c' }, '/home/u')).toEqual(['/a']);
    expect(kubeconfigFiles({}, { KUBECONFIG: '/b::/c' }, '/home/u')).toEqual(['/b', '/c']);
    expect(kubeconfigFiles({}, {}, '/home/u')).toEqual(['/home/u/.kube/config']);
    expect([...tokenFilesOf(kubeconfig('    token: inline\n    tokenFile: ignored'), '/k/config')]).toEqual([]);
  });
});
