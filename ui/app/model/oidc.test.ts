import { authorizationUrl, base64url, codeChallenge, codeVerifier, discoveryUrl, jwtClaims, readCallback, tokenRequestBody } from './oidc.js';

// Web Crypto, as in the browser (Node 20 has it as a global).
const sha256 = (d: Uint8Array) => crypto.subtle.digest('SHA-256', d as Uint8Array<ArrayBuffer>);

describe('PKCE', () => {
  it('matches RFC 7636 appendix B: verifier and S256 challenge', async () => {
    const random = Uint8Array.from([116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]);
    const verifier = codeVerifier(random);
    expect(verifier).toBe('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk');
    expect(await codeChallenge(verifier, sha256)).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
  it('refuses a verifier from too few random bytes', () => {
    expect(() => codeVerifier(new Uint8Array(16))).toThrow(/at least 32/);
  });
  it('encodes base64url without padding', () => {
    expect(base64url(Uint8Array.from([251, 255]))).toBe('-_8');
  });
});

describe('the authorization request and its answer', () => {
  const oidc = { issuerUrl: 'https://idp.example/realms/k', clientId: 'kubevmm', scopes: ['groups', 'openid'] };
  it('asks for a code with the S256 challenge, state, nonce and openid first', () => {
    const url = new URL(authorizationUrl({ endpoint: 'https://idp.example/auth?kc=1', oidc, redirectUri: 'https://console.example/', challenge: 'CH', state: 'ST', nonce: 'NO' }));
    expect(Object.fromEntries(url.searchParams)).toEqual({ kc: '1', response_type: 'code', client_id: 'kubevmm', redirect_uri: 'https://console.example/', scope: 'openid groups', code_challenge: 'CH', code_challenge_method: 'S256', state: 'ST', nonce: 'NO' });
    expect(discoveryUrl('https://idp.example/realms/k/')).toBe('https://idp.example/realms/k/.well-known/openid-configuration');
  });
  it('takes the code only with this tab\'s state; reports the provider\'s error', () => {
    expect(readCallback('?code=abc&state=ST', 'ST')).toEqual({ code: 'abc' });
    expect(readCallback('?code=abc&state=OTHER', 'ST')).toEqual({ error: expect.stringMatching(/state mismatch/) });
    expect(readCallback('?code=abc&state=ST', null)).toEqual({ error: expect.stringMatching(/state mismatch/) });
    expect(readCallback('?error=access_denied&error_description=no&state=ST', 'ST')).toEqual({ error: 'the identity provider refused: access_denied: no' });
    expect(readCallback('', 'ST')).toBeUndefined();
  });
  it('exchanges the code with the verifier, and reads the id_token\'s claims', () => {
    expect(Object.fromEntries(tokenRequestBody({ code: 'C', verifier: 'V', redirectUri: 'R', clientId: 'kubevmm' }))).toEqual({ grant_type: 'authorization_code', code: 'C', code_verifier: 'V', redirect_uri: 'R', client_id: 'kubevmm' });
    const payload = base64url(new TextEncoder().encode(JSON.stringify({ nonce: 'NO', sub: 'ü' })));
    expect(jwtClaims(`h.${payload}.s`)).toEqual({ nonce: 'NO', sub: 'ü' });
    expect(() => jwtClaims('opaque')).toThrow(/not a JWT/);
  });
});
