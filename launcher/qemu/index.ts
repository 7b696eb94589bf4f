// Public surface of the QEMU argv planner; the launcher imports from here.
export { planQemu } from './plan.js';
export type { DiskBacking, PlannedDisk, QemuInput, QemuPlan } from './types.js';
export { QemuPlanError, UnsupportedSpecError, LauncherInputError } from './errors.js';
export { blockNodes, blockNodeNames } from './blockdev.js';
export type { FormatNode, ProtocolNode } from './blockdev.js';
export { diskDeviceId, driveLetters, MAX_SATA_DISKS, SCSI_CONTROLLER } from './disks.js';
export { OVMF_CODE, OVMF_VARS_TEMPLATE } from './firmware.js';
export { macAddress, netdevId } from './network.js';
export { GUEST_AGENT_PORT_NAME } from './console.js';
export { RUNTIME_FILES } from './sockets.js';
export { TCG_TB_SIZE_MIB } from './machine.js';
