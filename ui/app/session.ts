/**
 * Who the app acts as, and how it proves it. Cluster mode: the bearer token the user signed in
 * with. Local mode: the session token of `kubevmm ui` (from the printed address); the server
 * checks it and applies the kubeconfig's credentials instead. Either is kept in sessionStorage
 * only (this origin's, gone with the tab, never in localStorage or a cookie), sent on every
 * fetch as `Authorization: Bearer` and offered as a WebSocket subprotocol.
 */
import { browserProtocols, STREAM_PROTOCOL } from '../../api/contract/subresource.js';
import { UI_SESSION_PARAM, type UiConfig } from '../../api/contract/ui.js';

const TOKEN_KEY = 'kubevmm.token';
const LOCAL_SESSION_KEY = 'kubevmm.session';

/**
 * Moves the local session token from the address (`?session=`, as `kubevmm ui` prints it) into
 * sessionStorage, and takes it out of the address bar and the history.
 */
export function adoptLocalSession(): void {
  const url = new URL(location.href);
  const token = url.searchParams.get(UI_SESSION_PARAM);
  if (token === null) return;
  sessionStorage.setItem(LOCAL_SESSION_KEY, token);
  url.searchParams.delete(UI_SESSION_PARAM);
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
}

/** `extra` with `Authorization: Bearer <token>` when there is a token. */
function bearerHeaders(token: string | null, extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

/** Headers that prove the local session before the mode is known (the configuration's request). */
export function localSessionHeaders(): Record<string, string> {
  return bearerHeaders(sessionStorage.getItem(LOCAL_SESSION_KEY));
}

/** The signed-in state of the tab. */
export class Session {
  constructor(readonly config: UiConfig) {}

  get token(): string | null {
    return sessionStorage.getItem(this.config.mode === 'cluster' ? TOKEN_KEY : LOCAL_SESSION_KEY);
  }

  /** Whether the app can call the API: local mode with its session (it got the configuration with it); cluster mode once signed in. */
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
    return bearerHeaders(this.token, extra);
  }

  /** The subprotocols of a stream WebSocket. */
  protocols(): string[] {
    const token = this.token;
    return token ? browserProtocols(token) : [STREAM_PROTOCOL];
  }
}
