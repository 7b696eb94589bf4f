/**
 * Cluster-mode sign-in: paste a bearer token (a ServiceAccount token, or an identity provider's
 * id_token), or sign in with OIDC when the server says the cluster trusts a provider. The
 * token is checked with a SelfSubjectReview before it is kept.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { UiConfig } from '../../../api/contract/ui.js';
import { startOidc } from '../oidc-flow.js';
import { errorText } from './errors.js';

/** The sign-in page; `onToken` checks and keeps a token (rejecting with why it was refused). */
export function SignIn(props: { config: UiConfig; onToken: (token: string) => Promise<void>; error?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(props.error ?? '');
  const submit = (e: Event) => {
    e.preventDefault();
    setError('');
    props.onToken(token).catch((err: unknown) => setError(errorText(err)));
  };
  const oidc = props.config.oidc;
  return html`<main class="signin" data-testid="signin">
    <h1>Sign in to kubevmm</h1>
    <p>The console acts as you: every call carries your token to the API server, which decides what you may do. The token stays in this tab (session storage) and is gone when the tab closes.</p>
    ${oidc ? html`<p><button type="button" class="primary" data-testid="signin-oidc" onClick=${() => startOidc(oidc).catch((err: unknown) => setError(errorText(err)))}>Sign in with ${new URL(oidc.issuerUrl).host}</button></p><p>or</p>` : null}
    <form onSubmit=${submit}>
      <label for="token">Bearer token</label>
      <textarea id="token" rows="4" data-testid="signin-token" autocomplete="off" spellcheck="false" value=${token} onInput=${(e: Event) => setToken((e.target as HTMLTextAreaElement).value)}></textarea>
      <small>For a ServiceAccount: <code>kubectl create token NAME</code></small>
      ${error ? html`<p class="error" role="alert" data-testid="signin-error">${error}</p>` : null}
      <button type="submit" class="primary" data-testid="signin-submit" disabled=${!token.trim()}>Sign in</button>
    </form>
  </main>`;
}
