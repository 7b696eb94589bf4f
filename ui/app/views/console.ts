/**
 * The serial console tab: xterm.js on the `console` subresource. Bytes both ways are binary
 * messages; typing goes to the guest as UTF-8.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import type { Kube } from '../kube.js';
import type { Access } from '../model/access.js';
import { closeText, openStream } from './stream.js';

/** The serial console of `vm`; without the right, the reason and no connection. */
export function SerialConsole(props: { kube: Kube; vm: VirtualMachine; access: Access | undefined }) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState('connecting…');
  const allowed = props.access?.allowed;
  useEffect(() => {
    if (!allowed || !host.current) return undefined;
    const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current);
    fit.fit();
    const ws = openStream(props.kube, props.vm, 'console');
    const encoder = new TextEncoder();
    ws.onopen = () => {
      setState('connected');
      term.focus();
    };
    ws.onmessage = (e) => term.write(new Uint8Array(e.data as ArrayBuffer));
    ws.onclose = (e) => setState(closeText(e));
    const typing = term.onData((data) => ws.readyState === WebSocket.OPEN && ws.send(encoder.encode(data)));
    const resize = new ResizeObserver(() => fit.fit());
    resize.observe(host.current);
    return () => {
      resize.disconnect();
      typing.dispose();
      ws.close();
      term.dispose();
    };
  }, [props.kube, props.vm.metadata.uid, allowed]);
  if (!props.access) return html`<p>checking your rights…</p>`;
  if (!props.access.allowed) return html`<p class="reason" data-testid="console-denied">Console unavailable: ${props.access.reason}</p>`;
  return html`<div class="console">
    <p class="stream-state" role="status" data-testid="console-state">${state}</p>
    <div class="terminal" ref=${host} data-testid="console-terminal"></div>
  </div>`;
}
