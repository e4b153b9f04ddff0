/**
 * Bearer secrets: 256 random bits, base64url, with a prefix that says what they are
 * (zt_ API token, zj_ join token, zn_ node credential). Only SHA-256 hex is stored: the secrets
 * carry full entropy, so a slow password hash would buy nothing and cost Worker CPU per request.
 */
export type TokenKind = 'zt' | 'zj' | 'zn';

export function generateToken(kind: TokenKind): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `${kind}_${btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
