// Public surface of the launcher's control API.
export { startControlServer, isReady, MAX_BODY_BYTES } from './server.js';
export type { ControlServer, ControlServerOptions } from './server.js';
export { handleControlRequest, attachDiskBody } from './routes.js';
export { TokenFile, tokensMatch, bearerToken } from './auth.js';
