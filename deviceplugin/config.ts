/**
 * Device plugin settings from flags or KUBEVMM_* environment variables (the Helm chart sets the
 * flags), checked with messages that name the flag and what would be valid.
 */
import { isAbsolute } from 'node:path';
import { Option, type Command } from 'commander';
import { KNOWN_RESOURCES, isKnownResource, type ResourceShortName } from './catalog.js';
import type { DevicePluginConfig } from './plugin.js';

/** kubelet's default --max-pods: one device per pod that could land on the node. */
export const DEFAULT_DEVICES_PER_RESOURCE = 110;

const FLAGS: [flag: string, env: string, help: string, fallback: string][] = [
  ['--plugin-dir <dir>', 'KUBEVMM_PLUGIN_DIR', "the kubelet's device plugin directory", '/var/lib/kubelet/device-plugins'],
  ['--dev-root <dir>', 'KUBEVMM_DEV_ROOT', "where the host's /dev is visible to this process (health checks)", '/dev'],
  ['--devices-per-resource <n>', 'KUBEVMM_DEVICES_PER_RESOURCE', 'identical devices advertised per resource', String(DEFAULT_DEVICES_PER_RESOURCE)],
  ['--resources <list>', 'KUBEVMM_RESOURCES', `comma-separated resources to advertise (${Object.keys(KNOWN_RESOURCES).join(', ')})`, 'kvm,tun,vhost-net'],
  ['--health-interval-seconds <n>', 'KUBEVMM_HEALTH_INTERVAL_SECONDS', 'check device health and the kubelet socket this often', '10'],
];

/** Adds the device plugin flags (each also read from its KUBEVMM_* variable). */
export function withDevicePluginOptions(cmd: Command): Command {
  for (const [flag, env, help, fallback] of FLAGS) cmd.addOption(new Option(flag, help).env(env).default(fallback));
  return cmd;
}

/** Thrown for a setting that cannot work; the message names the flag and the fix. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function absoluteDir(flag: string, value: unknown): string {
  const dir = String(value ?? '');
  if (!isAbsolute(dir)) throw new ConfigError(`${flag}: "${dir}" is not an absolute path; give one such as /var/lib/kubelet/device-plugins`);
  return dir;
}

function integer(flag: string, value: unknown, range: [min: number, max: number]): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < range[0] || n > range[1]) {
    throw new ConfigError(`${flag}: "${String(value)}" is not a whole number from ${range[0]} to ${range[1]}`);
  }
  return n;
}

function seconds(flag: string, value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new ConfigError(`${flag}: "${String(value)}" is not a number of seconds above 0 and up to 3600`);
  return n;
}

/** Parses "kvm,tun" into known, distinct resource names. */
export function parseResources(value: unknown): ResourceShortName[] {
  const names = String(value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const known = Object.keys(KNOWN_RESOURCES).join(', ');
  if (names.length === 0) throw new ConfigError(`--resources: empty; list one or more of ${known}`);
  const unknown = names.filter((n) => !isKnownResource(n));
  if (unknown.length > 0) throw new ConfigError(`--resources: unknown ${unknown.map((n) => `"${n}"`).join(', ')}; known are ${known}`);
  return [...new Set(names)] as ResourceShortName[];
}

/** Builds the plugin configuration from parsed flags; throws ConfigError when a value cannot work. */
export function configFromOptions(opts: Record<string, unknown>): DevicePluginConfig {
  const intervalSeconds = seconds('--health-interval-seconds', opts.healthIntervalSeconds);
  return {
    pluginDir: absoluteDir('--plugin-dir', opts.pluginDir),
    devRoot: absoluteDir('--dev-root', opts.devRoot),
    devicesPerResource: integer('--devices-per-resource', opts.devicesPerResource, [1, 10_000]),
    resources: parseResources(opts.resources),
    checkIntervalMs: Math.round(intervalSeconds * 1000),
    registerTimeoutMs: 10_000,
  };
}
