import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MERGED_USR_HOOKS, mmdebstrapArgs, SLIM_DPKG } from './rootfs.js';

const exec = promisify(execFile);

describe('mmdebstrapArgs', () => {
  const run = `apt-get install -y "a b" 'c' $HOME \`x\` && echo "it's" > /dev/null`;
  const { args, env } = mmdebstrapArgs({
    suite: 'bookworm',
    slim: true,
    include: ['libstdc++6'],
    steps: [
      { upload: '/usr/bin/node', path: '/usr/local/bin/node', mode: 0o755 },
      { run, env: ['PATH=/usr/bin:/bin', 'A=x y'] },
    ],
  });

  it('bootstraps minbase of the suite with merged /usr, slimmed, to a tar on stdout', () => {
    expect(args.slice(0, 4)).toEqual(['--variant=minbase', `--hook-dir=${MERGED_USR_HOOKS}`, '--format=tar', '--include=libstdc++6']);
    expect(args.filter((a) => a.startsWith('--dpkgopt='))).toEqual(SLIM_DPKG.map((o) => `--dpkgopt=${o}`));
    expect(args.slice(-2)).toEqual(['bookworm', '-']);
  });

  it('runs the steps in order, then drops the host resolv.conf and hostname', () => {
    expect(args.filter((a) => a.startsWith('--customize-hook=')).map((a) => a.slice('--customize-hook='.length))).toEqual([
      'upload /usr/bin/node /usr/local/bin/node',
      'chmod 755 "$1/usr/local/bin/node"',
      'env -i HOME=/root "$KUBEVMM_ENV_1_0" "$KUBEVMM_ENV_1_1" /usr/sbin/chroot "$1" /bin/sh -c "$KUBEVMM_RUN_1"',
      'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
    ]);
  });

  it('hands the RUN text to the chroot shell byte for byte, whatever quotes it holds', async () => {
    // The hook as mmdebstrap runs it (sh -c HOOK exec ROOT), with `chroot` swapped for printf.
    const hook = args.find((a) => a.includes('KUBEVMM_RUN_1'))!.slice('--customize-hook='.length).replace('/usr/sbin/chroot "$1" /bin/sh -c', 'printf %s');
    const { stdout } = await exec('sh', ['-c', hook, 'exec', '/root'], { env: { ...env, PATH: '/usr/bin:/bin' } });
    expect(stdout).toBe(run);
    expect(env.KUBEVMM_ENV_1_1).toBe('A=x y');
  });

  it('refuses upload paths a hook would split or a shell would read (spaces, quotes, $)', () => {
    for (const [upload, path] of [['/my node', '/n'], ['/n', '/a"; rm -rf "$1'], ['/n', '/$(id)'], ['relative', '/n']]) {
      expect(() => mmdebstrapArgs({ suite: 'bookworm', slim: false, include: [], steps: [{ upload: upload!, path: path!, mode: 0o755 }] })).toThrow('only absolute paths of letters');
    }
  });
});
