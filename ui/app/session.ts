/**
 * Who the app acts as. Local mode: nobody it knows of (the server applies the kubeconfig's
 * credentials; the session cookie is sent by the browser). Cluster mode: the bearer token the
 * user signed in with, kept in sessionStorage only (gone with the tab, never in localStorage
 * or a cookie), sent on every fetch and offered as a WebSocket subprotocol.
 */
import { browserProtocols, STREAM_PROTOCOL } from '../../api/contract/subresource.js';
import type { UiConfig } from '../../api/contract/ui.js';

const TOKEN_KEY = 'kubevmm.token';

/** The signed-in state of the tab. */
export class Session {
  constructor(readonly config: UiConfig) {}

  get token(): string | null {
    return this.config.mode === 'cluster' ? sessionStorage.getItem(TOKEN_KEY) : null;
  }

  /** Whether the app can call the API: local mode always; cluster mode once signed in. */
  get signedIn(): boolean {
    return this.config.mode === 'local' || this.token !== null;
  }

  signIn(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
  }

  signOut(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  /** Headers of every API call. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.token;
    return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
  }

  /** The subprotocols of a stream WebSocket. */
  protocols(): string[] {
    const token = this.token;
    return token ? browserProtocols(token) : [STREAM_PROTOCOL];
  }
}
