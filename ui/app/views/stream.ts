/** Opening a subresource stream (console, vnc) as the signed-in user. */
import type { StreamSubresource } from '../../../api/contract/subresource.js';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import { vmSubresourcePath, webSocketUrl } from '../model/paths.js';

/** A WebSocket on the VM's `subresource`, offering the stream subprotocol (and the token's in cluster mode). */
export function openStream(kube: Kube, vm: VirtualMachine, subresource: StreamSubresource): WebSocket {
  const url = webSocketUrl(vmSubresourcePath(vm.metadata.namespace ?? '', vm.metadata.name, subresource), document.baseURI);
  const ws = new WebSocket(url, kube.session.protocols());
  ws.binaryType = 'arraybuffer';
  return ws;
}

/** What a closed stream tells the user. A refused handshake reaches the page only as 1006. */
export function closeText(event: CloseEvent): string {
  if (event.code === 1006) return 'the stream could not be opened or was cut (refused, VM not running, or the connection dropped)';
  return `stream closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`;
}
