import { Command } from 'commander';
import { configFromOptions, parseResources, withDevicePluginOptions } from './config.js';

/** Parses flags the way main does, with `env` as the environment. */
function parse(args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cmd = withDevicePluginOptions(new Command('t').exitOverride());
    cmd.parse(['node', 't', ...args]);
    return cmd.opts();
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('device plugin config', () => {
  it('defaults to the kubelet directory, 110 devices, all three resources, 10 s checks', () => {
    expect(configFromOptions(parse([]))).toEqual({
      pluginDir: '/var/lib/kubelet/device-plugins',
      devRoot: '/dev',
      devicesPerResource: 110,
      resources: ['kvm', 'tun', 'vhost-net'],
      checkIntervalMs: 10_000,
      registerTimeoutMs: 10_000,
    });
  });

  it('reads flags and KUBEVMM_* variables, flags winning', () => {
    const env = { KUBEVMM_DEVICES_PER_RESOURCE: '8', KUBEVMM_RESOURCES: 'kvm', KUBEVMM_DEV_ROOT: '/host/dev' };
    expect(configFromOptions(parse(['--resources', 'tun, kvm', '--health-interval-seconds', '0.5'], env))).toMatchObject({
      devRoot: '/host/dev',
      devicesPerResource: 8,
      resources: ['tun', 'kvm'],
      checkIntervalMs: 500,
    });
  });

  it('names the flag and what would be valid', () => {
    expect(() => configFromOptions(parse(['--plugin-dir', 'device-plugins']))).toThrow(
      '--plugin-dir: "device-plugins" is not an absolute path; give one such as /var/lib/kubelet/device-plugins',
    );
    expect(() => configFromOptions(parse(['--devices-per-resource', '0']))).toThrow('--devices-per-resource: "0" is not a whole number from 1 to 10000');
    expect(() => configFromOptions(parse(['--health-interval-seconds', 'soon']))).toThrow('--health-interval-seconds: "soon" is not a number of seconds');
    expect(() => parseResources('kvm,gpu')).toThrow('--resources: unknown "gpu"; known are kvm, tun, vhost-net');
    expect(() => parseResources(' , ')).toThrow('--resources: empty; list one or more of kvm, tun, vhost-net');
    expect(parseResources('kvm,kvm')).toEqual(['kvm']);
  });
});
