// Firmware: SeaBIOS is built into QEMU; EFI is OVMF on two pflash chips (shared read-only code,
// per-VM variables that the launcher copies from the template before starting QEMU).
import { LauncherInputError } from './errors.js';
import { blockdev } from './qemu-opts.js';
import type { Fragment } from './fragment.js';

/** Debian's OVMF build (package `ovmf`), 4 MiB flash layout. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
/** Template of the EFI variable store; each VM needs its own writable copy. */
export const OVMF_VARS_TEMPLATE = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** Block node names of the flash chips. */
export const FIRMWARE_NODES = { code: 'fw-code', vars: 'fw-vars' } as const;

function flashNodes(node: string, path: string, readOnly: boolean): string[] {
  return [
    ...blockdev({ driver: 'file', filename: path, 'node-name': `${node}-file`, 'read-only': readOnly }),
    ...blockdev({ driver: 'raw', file: `${node}-file`, 'node-name': node, 'read-only': readOnly }),
  ];
}

/** Firmware block nodes; `pflash` names them for `-machine pflash0=,pflash1=`. */
export function firmwareFragment(
  kind: 'bios' | 'efi',
  paths: { code: string; vars: string } | undefined,
): Fragment & { pflash?: { code: string; vars: string } } {
  if (kind === 'bios') return { args: [] };
  if (!paths?.code || !paths.vars) {
    throw new LauncherInputError(
      `firmware efi needs the OVMF code and a per-VM vars file (defaults ${OVMF_CODE} and a copy of ${OVMF_VARS_TEMPLATE})`,
    );
  }
  return {
    args: [...flashNodes(FIRMWARE_NODES.code, paths.code, true), ...flashNodes(FIRMWARE_NODES.vars, paths.vars, false)],
    pflash: { ...FIRMWARE_NODES },
  };
}
