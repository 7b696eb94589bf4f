/**
 * The VNC tab: noVNC's RFB client over our own WebSocket on the `vnc` subresource (raw RFB in
 * binary messages), with Ctrl-Alt-Del and "paste as keystrokes" (a guest at a login prompt or
 * in a BIOS has no clipboard).
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import RFB from '@novnc/novnc';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import type { Access } from '../model/access.js';
import { keysymsOf, MAX_PASTE_CHARS } from '../model/keysyms.js';
import { closeText, openStream } from './stream.js';

/** The VNC display of `vm`; without the right, the reason and no connection. */
export function VncConsole(props: { kube: Kube; vm: VirtualMachine; access: Access | undefined }) {
  const host = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [state, setState] = useState('connecting…');
  const [paste, setPaste] = useState('');
  const allowed = props.access?.allowed;
  useEffect(() => {
    if (!allowed || !host.current) return undefined;
    const ws = openStream(props.kube, props.vm, 'vnc');
    ws.addEventListener('close', (e) => setState(closeText(e)));
    const client = new RFB(host.current, ws);
    client.scaleViewport = true;
    client.addEventListener('connect', () => setState('connected'));
    client.addEventListener('securityfailure', () => setState('the VNC server refused the security handshake'));
    rfb.current = client;
    return () => {
      rfb.current = null;
      client.disconnect();
    };
  }, [props.kube, props.vm.metadata.uid, allowed]);
  const typeText = (e: Event) => {
    e.preventDefault();
    const client = rfb.current;
    if (!client) return;
    for (const keysym of keysymsOf(paste.slice(0, MAX_PASTE_CHARS))) client.sendKey(keysym, null);
    setPaste('');
    client.focus();
  };
  if (!props.access) return html`<p>checking your rights…</p>`;
  if (!props.access.allowed) return html`<p class="reason" data-testid="vnc-denied">VNC unavailable: ${props.access.reason}</p>`;
  return html`<div class="vnc">
    <div class="vnc-tools">
      <span role="status" data-testid="vnc-state">${state}</span>
      <button type="button" data-testid="vnc-ctrl-alt-del" onClick=${() => rfb.current?.sendCtrlAltDel()}>Ctrl-Alt-Del</button>
      <form class="inline-form" onSubmit=${typeText}>
        <label>Paste as keystrokes <input value=${paste} maxlength=${MAX_PASTE_CHARS} data-testid="vnc-paste" onInput=${(e: Event) => setPaste((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" data-testid="vnc-type">Type it</button>
      </form>
    </div>
    <div class="vnc-screen" ref=${host} data-testid="vnc-screen"></div>
  </div>`;
}
