// Public surface of the QMP client; the launcher imports from here.
export * from './errors.js';
export type * from './protocol.js';
export { QmpFrameDecoder, encodeCommand } from './framing.js';
export { QmpClient, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_EVENT_TIMEOUT_MS } from './client.js';
export type { ExecuteOptions, QmpClientEvents, QmpClientOptions } from './client.js';
export { connectQmp } from './connect.js';
export type { ConnectOptions } from './connect.js';
export * from './commands.js';
