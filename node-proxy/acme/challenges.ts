/**
 * HTTP-01 challenge answers: `GET /.well-known/acme-challenge/<token>` on the plain HTTP listener,
 * read from the database, so whichever proxy the CA reaches answers for the issuer.
 */
import type { HeaderList, Inbound, Outbound } from '../forward.js';
import type { AcmeStore } from './store.js';

const PREFIX = '/.well-known/acme-challenge/';
/** Tokens are base64url (RFC 8555 §8.3); anything else is not looked up. */
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const TEXT: HeaderList = [['content-type', 'text/plain'], ['cache-control', 'no-store']];

export function isChallengeRequest(req: Inbound): boolean {
  return req.proto === 'http' && (req.method === 'GET' || req.method === 'HEAD') && req.path.startsWith(PREFIX);
}

export async function answerChallenge(store: AcmeStore, req: Inbound, res: Outbound, log: (m: string) => void): Promise<void> {
  const token = req.path.slice(PREFIX.length);
  let answer: string | null = null;
  if (TOKEN.test(token)) {
    try {
      answer = await store.challenge(token);
    } catch (err) {
      log(`acme challenge lookup failed: ${(err as Error).message}`);
      return res.send(503, TEXT, Buffer.from('challenge store unreachable\n'));
    }
  }
  if (answer === null) return res.send(404, TEXT, Buffer.from('no such ACME challenge\n'));
  const body = Buffer.from(answer);
  res.send(200, TEXT, req.method === 'HEAD' ? undefined : body, body.length);
}
