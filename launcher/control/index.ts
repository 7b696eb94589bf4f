// Public surface of the launcher's control API.
export { startControlServer, isReady, MAX_BODY_BYTES } from './server.js';
export type { ControlServer, ControlServerOptions } from './server.js';
export { handleControlRequest } from './routes.js';
export type { ControlTlsFiles } from './tls.js';
