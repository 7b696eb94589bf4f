/** PEM text, as the operator's PKI and the subresource server's front-proxy check read it. */

/** The certificate blocks of a PEM bundle, in order. */
export function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
