/**
 * The largest WebSocket message of a subresource stream (`v1.stream.kubevmm.io`, ADR 0011)
 * that the subresource server takes from a client: 256 KiB. Clients send keystrokes, RFB
 * client messages and TCP chunks; the CLI cuts longer writes into messages of at most this.
 */
export const MAX_STREAM_MESSAGE_BYTES = 256 * 1024;
