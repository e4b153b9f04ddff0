/**
 * Who we are to WebAuthn: the relying party id (a domain) and the origins a ceremony may come from,
 * both from PUBLIC_URL, never from the request (a forged Host must not pick the rpID).
 *
 * WebAuthn refuses IP addresses as rpIDs. The local stack's PUBLIC_URL is http://127.0.0.1:<port>,
 * so on a loopback PUBLIC_URL the rpID is "localhost" and the dashboard must be opened at
 * http://localhost:<port> for passkeys (both loopback origins are accepted; localhost is a secure
 * context, so the Secure session cookie works there too).
 */
import type { Env } from '../../env.js';
import { publicUrl } from '../../env.js';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

export interface RelyingParty {
  id: string;
  name: string;
  origins: string[];
}

export function relyingParty(env: Env): RelyingParty {
  const url = new URL(publicUrl(env));
  if (LOOPBACK.test(url.hostname)) {
    const port = url.port ? `:${url.port}` : '';
    return { id: 'localhost', name: 'Zectre (local)', origins: [...new Set([url.origin, `${url.protocol}//localhost${port}`])] };
  }
  return { id: url.hostname, name: 'Zectre', origins: [url.origin] };
}
