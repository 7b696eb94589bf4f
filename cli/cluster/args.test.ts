import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeOf } from '../program.js';
import { addClusterVerbs, DEFAULT_TIMEOUT_S, type VerbRequest } from './args.js';

/** Parses `args` as `kubevmm ARGS`: the request, or commander's error and what it printed. */
async function parse(...args: string[]): Promise<{ request?: VerbRequest; error?: CommanderError; stderr: string }> {
  let request: VerbRequest | undefined;
  let stderr = '';
  const program = new Command('kubevmm').exitOverride().configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => undefined });
  addClusterVerbs(program, async (r) => {
    request = r;
  });
  try {
    await program.parseAsync(['node', 'kubevmm', ...args]);
    return { ...(request ? { request } : {}), stderr };
  } catch (err) {
    return { error: err as CommanderError, stderr };
  }
}

describe('cluster verbs', () => {
  it('takes kubectl\'s flags and waits by default', async () => {
    expect((await parse('start', 'web-1', '-n', 'team-a', '--context', 'prod', '--kubeconfig', '/k')).request).toEqual({
      verb: 'start', name: 'web-1', namespace: 'team-a', context: 'prod', kubeconfig: '/k', wait: true, timeout: DEFAULT_TIMEOUT_S,
    });
    expect((await parse('pause', 'web-1', '--no-wait', '--timeout', '30')).request).toEqual({ verb: 'pause', name: 'web-1', wait: false, timeout: 30 });
  });

  it('stop takes --grace N and --force', async () => {
    expect((await parse('stop', 'web-1', '--grace', '0')).request).toMatchObject({ verb: 'stop', grace: 0, force: false });
    expect((await parse('stop', 'web-1', '--force')).request).toMatchObject({ verb: 'stop', force: true });
  });

  it('reads the volume, port and display verbs', async () => {
    expect((await parse('addvolume', 'web-1', '--claim', 'data', '--name', 'd1', '--bus', 'scsi')).request).toMatchObject({ verb: 'addvolume', claim: 'data', disk: 'd1', bus: 'scsi' });
    expect((await parse('removevolume', 'web-1', 'd1')).request).toMatchObject({ verb: 'removevolume', name: 'web-1', disk: 'd1' });
    expect((await parse('port-forward', 'web-1', '8080:80')).request).toMatchObject({ verb: 'port-forward', local: 8080, guest: 80 });
    expect((await parse('ssh', 'web-1', '--', '-l', 'root', 'uptime')).request).toMatchObject({ verb: 'ssh', sshArgs: ['-l', 'root', 'uptime'] });
    expect((await parse('vnc', 'web-1', '--screenshot', 'screen.png')).request).toMatchObject({ verb: 'vnc', screenshot: 'screen.png' });
    expect((await parse('console', 'web-1')).request).toEqual({ verb: 'console', name: 'web-1' });
  });

  it('create vm takes one root source, the class, sizes, cloud-init and --apply', async () => {
    expect((await parse('create', 'vm', 'web-1', '--claim', 'web-1-root')).request).toEqual({ verb: 'create-vm', name: 'web-1', source: { claim: 'web-1-root' }, apply: false });
    expect((await parse('create', 'vm', 'web-1', '--container-disk', 'registry.example/os:1', '--class', 'small', '--cloud-init', 'ci.yaml', '--apply', '-n', 'team-a')).request).toEqual({
      verb: 'create-vm', name: 'web-1', source: { containerDisk: 'registry.example/os:1' }, className: 'small', cloudInit: 'ci.yaml', apply: true, namespace: 'team-a',
    });
    expect((await parse('create', 'vm', 'web-1', '--image', 'debian-12', '--memory', '2Gi', '--cores', '2')).request).toMatchObject({ source: { image: 'debian-12' }, memory: '2Gi', cores: 2 });
  });

  it.each([
    [['create', 'vm', 'web-1'], /give the root disk: exactly one of --claim PVC, --container-disk IMAGE, --image VMIMAGE/],
    [['create', 'vm', 'web-1', '--claim', 'a', '--image', 'b'], /option '--claim <pvc>' cannot be used with option '--image <vmimage>'/],
    [['create', 'vm', 'web-1', '--claim', 'a', '--cores', '0'], /--cores takes a whole number from 1 to 512/],
    [['create', 'vm', '--claim', 'a'], /missing required argument 'name'/],
    [['stop', 'web-1', '--grace', '-5'], /--grace takes a whole number from 0 to 86400/],
    [['start', 'web-1', '--timeout', '1m'], /--timeout takes a whole number/],
    [['port-forward', 'web-1', '8080'], /give LOCAL:GUEST, two ports, e.g. 8080:80/],
    [['port-forward', 'web-1', '8080:70000'], /a port takes a whole number from 1 to 65535/],
    [['addvolume', 'web-1'], /required option '--claim <pvc>' not specified/],
    [['addvolume', 'web-1', '--claim', 'c', '--bus', 'ide'], /Allowed choices are virtio, scsi, sata/],
    [['vnc', 'web-1', '--port', '5900', '--screenshot', 'f.png'], /cannot be used with option '--screenshot/],
    [['console'], /missing required argument 'name'/],
  ])('refuses %j as a usage error naming the flag', async (args, message) => {
    const { error, stderr } = await parse(...args);
    expect(error).toBeInstanceOf(CommanderError);
    expect(exitCodeOf(error)).toBe(EXIT.usage);
    expect(stderr).toMatch(message);
  });
});
