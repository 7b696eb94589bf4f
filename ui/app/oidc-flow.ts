/**
 * The browser half of OIDC sign-in (model/oidc.ts has the pure parts): start sends the user to
 * the provider with a PKCE challenge; finish exchanges the returned code for tokens and keeps
 * the id_token as the session's bearer token. The provider's endpoints are fetched from the
 * page, so the server's CSP must allow the issuer in connect-src when OIDC is configured.
 */
import type { UiConfig } from '../../api/contract/ui.js';
import { authorizationUrl, base64url, codeChallenge, codeVerifier, discoveryUrl, jwtClaims, readCallback, tokenRequestBody } from './model/oidc.js';

type Oidc = NonNullable<UiConfig['oidc']>;
const PENDING_KEY = 'kubevmm.oidc.pending';

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

const redirectUri = (): string => `${location.origin}${location.pathname}`;
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

async function discover(oidc: Oidc): Promise<Discovery> {
  const res = await fetch(discoveryUrl(oidc.issuerUrl));
  if (!res.ok) throw new Error(`the identity provider's discovery document answered ${res.status}`);
  return (await res.json()) as Discovery;
}

/** Sends the browser to the provider's sign-in page. */
export async function startOidc(oidc: Oidc): Promise<void> {
  const found = await discover(oidc);
  const verifier = codeVerifier(random(32));
  const state = base64url(random(16));
  const nonce = base64url(random(16));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce }));
  const challenge = await codeChallenge(verifier, (d) => crypto.subtle.digest('SHA-256', d as Uint8Array<ArrayBuffer>));
  location.assign(authorizationUrl({ endpoint: found.authorization_endpoint, oidc, redirectUri: redirectUri(), challenge, state, nonce }));
}

/**
 * When the page is the provider's redirect: the id_token (the query is removed from the
 * address either way); undefined when it is not a redirect.
 */
export async function finishOidc(oidc: Oidc): Promise<string | undefined> {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as { verifier: string; state: string; nonce: string } | null;
  const answer = readCallback(location.search, pending?.state ?? null);
  if (!answer) return undefined;
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  if ('error' in answer) throw new Error(answer.error);
  const found = await discover(oidc);
  const res = await fetch(found.token_endpoint, { method: 'POST', body: tokenRequestBody({ code: answer.code, verifier: pending!.verifier, redirectUri: redirectUri(), clientId: oidc.clientId }) });
  if (!res.ok) throw new Error(`the identity provider refused the code: ${res.status} ${await res.text()}`);
  const tokens = (await res.json()) as { id_token?: string };
  if (!tokens.id_token) throw new Error('the identity provider answered no id_token (is the openid scope allowed for this client?)');
  if (jwtClaims(tokens.id_token).nonce !== pending!.nonce) throw new Error('the id_token does not carry this sign-in\'s nonce; sign in again');
  return tokens.id_token;
}
