/** Operator settings from CLI flags, checked by the same schema the operator uses. */
import type { Command } from 'commander';
import { formatIssue, fromZod } from '../api/issues.js';
import { operatorConfig, type OperatorConfig } from '../api/schema/config.js';

/** Adds the operator-configuration flags shared by `render` and `play`. */
export function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('--accelerator <kvm|tcg|auto>', 'accelerator the operator is configured with')
    .option('--cpu-allocation-ratio <n>', 'vCPUs per requested CPU', Number)
    .option('--memory-overcommit-percent <n>', 'guest memory percent requested', Number)
    .option('--launcher-image <image>', 'launcher container image')
    .option('--hotplug-ports <n>', 'spare PCIe root ports per VM', Number)
    .option('--kvm-resource-name <name>', 'extended resource that hands out /dev/kvm');
}

/** Builds the configuration from parsed flags; throws with field-level messages when invalid. */
export function configFromOptions(opts: Record<string, unknown>): OperatorConfig {
  const raw = Object.fromEntries(
    ['accelerator', 'cpuAllocationRatio', 'memoryOvercommitPercent', 'launcherImage', 'hotplugPorts', 'kvmResourceName']
      .filter((k) => opts[k] !== undefined)
      .map((k) => [k, opts[k]]),
  );
  const parsed = operatorConfig.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(fromZod(parsed.error, operatorConfig, 'operator config').map(formatIssue).join('\n'));
}
