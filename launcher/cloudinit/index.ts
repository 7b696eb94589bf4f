// Public surface of the cloud-init (NoCloud) support; the launcher imports from here.
export { nocloudFiles, instanceId } from './nocloud.js';
export type { NocloudFiles, CloudInitSecretData } from './nocloud.js';
export { writeCidataIso, CIDATA_LABEL, XORRISO_INSTALL } from './iso.js';
export type { WriteCidataOptions } from './iso.js';
export { CloudInitError, MissingProgramError, CidataBuildError } from './errors.js';
