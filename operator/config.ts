/**
 * Operator settings from flags or KUBEVMM_* environment variables (the Helm chart sets the
 * latter), checked by the same schema the renderer uses. Shared by the operator and the CLI.
 */
import { Option, type Command } from 'commander';
import { formatIssue, fromZod } from '../api/issues.js';
import { operatorConfig, type OperatorConfig } from '../api/schema/config.js';

const FLAGS: [flag: string, env: string, help: string, numeric: boolean][] = [
  ['--accelerator <kvm|tcg|auto>', 'KUBEVMM_ACCELERATOR', 'accelerator the operator is configured with', false],
  ['--cpu-allocation-ratio <n>', 'KUBEVMM_CPU_ALLOCATION_RATIO', 'vCPUs per requested CPU', true],
  ['--memory-overcommit-percent <n>', 'KUBEVMM_MEMORY_OVERCOMMIT_PERCENT', 'guest memory percent requested', true],
  ['--launcher-image <image>', 'KUBEVMM_LAUNCHER_IMAGE', 'launcher container image', false],
  ['--hotplug-ports <n>', 'KUBEVMM_HOTPLUG_PORTS', 'spare PCIe root ports per VM', true],
  ['--kvm-resource-name <name>', 'KUBEVMM_KVM_RESOURCE_NAME', 'extended resource that hands out /dev/kvm', false],
  ['--container-disk-delivery <imageVolume|copy>', 'KUBEVMM_CONTAINER_DISK_DELIVERY', 'how containerDisks reach launchers: an image volume, or a copy by init containers', false],
];

/** Adds the operator-configuration flags (each also read from its KUBEVMM_* variable). */
export function withConfigOptions(cmd: Command): Command {
  for (const [flag, env, help, numeric] of FLAGS) {
    const option = new Option(flag, help).env(env);
    cmd.addOption(numeric ? option.argParser(Number) : option);
  }
  return cmd;
}

/** Builds the configuration from parsed flags; throws with field-level messages when invalid. */
export function configFromOptions(opts: Record<string, unknown>): OperatorConfig {
  const raw = Object.fromEntries(
    ['accelerator', 'cpuAllocationRatio', 'memoryOvercommitPercent', 'launcherImage', 'hotplugPorts', 'kvmResourceName', 'containerDiskDelivery']
      .filter((k) => opts[k] !== undefined)
      .map((k) => [k, opts[k]]),
  );
  const parsed = operatorConfig.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(fromZod(parsed.error, operatorConfig, 'operator config').map(formatIssue).join('\n'));
}
