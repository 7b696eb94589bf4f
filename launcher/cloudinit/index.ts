// Public surface of the cloud-init (NoCloud) support; the launcher imports from here.
export { nocloudFiles, instanceId } from './nocloud.js';
export type { NocloudFiles, CloudInitSecretData } from './nocloud.js';
export { writeCidataIso, CIDATA_LABEL } from './iso.js';
export { CloudInitError } from './errors.js';
