/** The kubevmm.io/v1alpha1 API: schemas, types, validation and resolution, shared by every component. */
export * from './quantity.js';
export * from './issues.js';
export * from './schema/common.js';
export * from './schema/vm.js';
export * from './schema/class.js';
export * from './schema/image.js';
export * from './schema/config.js';
export * from './validate.js';
export * from './resolve.js';
export * from './layout.js';
export * from './sizes.js';
