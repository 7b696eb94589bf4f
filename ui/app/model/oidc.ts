/**
 * OpenID Connect sign-in in the browser: the authorization-code flow with PKCE (RFC 7636,
 * S256), a public client with no secret. The id_token it yields is the bearer token the API
 * server checks against the same issuer. Pure but for the random bytes and the digest, which
 * the caller passes in (the browser's crypto in the app, Node's in tests).
 */
import type { UiConfig } from '../../../api/contract/ui.js';

type Oidc = NonNullable<UiConfig['oidc']>;

/** base64url without padding (RFC 4648 section 5), as PKCE and JWTs use it. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A code verifier: 32 random bytes as 43 base64url characters (RFC 7636 section 4.1). */
export function codeVerifier(random: Uint8Array): string {
  if (random.length < 32) throw new Error('a PKCE verifier needs at least 32 random bytes');
  return base64url(random);
}

/** The S256 challenge of a verifier: base64url(SHA-256(verifier)). */
export async function codeChallenge(verifier: string, sha256: (data: Uint8Array) => Promise<ArrayBuffer>): Promise<string> {
  return base64url(new Uint8Array(await sha256(new TextEncoder().encode(verifier))));
}

/** The authorization request's address at the provider's authorization endpoint. */
export function authorizationUrl(opts: { endpoint: string; oidc: Oidc; redirectUri: string; challenge: string; state: string; nonce: string }): string {
  const url = new URL(opts.endpoint);
  const scopes = ['openid', ...opts.oidc.scopes.filter((s) => s !== 'openid')];
  const params = {
    response_type: 'code',
    client_id: opts.oidc.clientId,
    redirect_uri: opts.redirectUri,
    scope: scopes.join(' '),
    code_challenge: opts.challenge,
    code_challenge_method: 'S256',
    state: opts.state,
    nonce: opts.nonce,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

/** The provider's discovery document address. */
export function discoveryUrl(issuerUrl: string): string {
  return `${issuerUrl.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** The redirect's query: the code when `state` matches, else the error to show. */
export function readCallback(search: string, expectedState: string | null): { code: string } | { error: string } | undefined {
  const q = new URLSearchParams(search);
  if (!q.has('code') && !q.has('error')) return undefined;
  if (!expectedState || q.get('state') !== expectedState) return { error: 'the sign-in answer does not belong to this browser tab (state mismatch); sign in again' };
  const error = q.get('error');
  if (error) return { error: `the identity provider refused: ${error}${q.get('error_description') ? `: ${q.get('error_description')}` : ''}` };
  return { code: q.get('code')! };
}

/** The token request's form body (code exchange with the verifier). */
export function tokenRequestBody(opts: { code: string; verifier: string; redirectUri: string; clientId: string }): URLSearchParams {
  return new URLSearchParams({ grant_type: 'authorization_code', code: opts.code, code_verifier: opts.verifier, redirect_uri: opts.redirectUri, client_id: opts.clientId });
}

/** The claims of a JWT's payload (not verified: the API server verifies it; the app only checks the nonce and shows the expiry). */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error('the id_token is not a JWT');
  const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}
