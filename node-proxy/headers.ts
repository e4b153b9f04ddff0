import { randomUUID } from 'node:crypto';

/** Shared, never mutated: most messages have no Connection header. */
const EMPTY: ReadonlySet<string> = new Set<string>();

/** Headers that describe one connection, not the message (RFC 9110 7.6.1); never forwarded either way. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/**
 * What a sender may not remove by naming it in Connection: the framing (which the proxy writes
 * itself) and the routing. Naming Content-Length once made the proxy forward a body with no framing
 * at all, which the app read as further requests (issue 9).
 */
const NOT_NAMEABLE = new Set(['host', 'content-length', 'transfer-encoding']);

function isHopByHop(name: string, connectionTokens: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (connectionTokens.has(name) && !NOT_NAMEABLE.has(name));
}

/** Names listed in a Connection header are hop-by-hop for this message too. */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (!value) return EMPTY;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return new Set(joined.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

export interface ClientInfo {
  /** The Host header as the client sent it. */
  host: string;
  /** The peer's address. */
  remoteAddress: string;
  proto: 'http' | 'https';
  /** The peer is a configured trusted proxy: the forwarding headers it sent are kept. */
  trusted: boolean;
  /** Who the request is from: the peer, or behind a trusted peer the address it forwarded for. */
  clientAddress: string;
}

/**
 * Request headers for the upstream: hop-by-hop and Content-Length stripped (the caller frames the
 * body), X-Forwarded-*, X-Real-IP and X-Request-Id set. From an untrusted peer the forwarding headers
 * are replaced with what this proxy saw, never appended to: the app must be able to believe them.
 */
export function upstreamRequestHeaders(incoming: Record<string, string>, client: ClientInfo): Record<string, string> {
  const tokens = connectionTokens(incoming.connection);
  const out: Record<string, string> = {};
  for (const name in incoming) {
    if (name !== 'content-length' && !isHopByHop(name, tokens)) out[name] = incoming[name]!;
  }
  if (client.trusted) {
    const priorFor = incoming['x-forwarded-for'];
    out['x-forwarded-for'] = priorFor ? `${priorFor}, ${client.remoteAddress}` : client.remoteAddress;
    out['x-forwarded-proto'] = incoming['x-forwarded-proto'] || client.proto;
    out['x-forwarded-host'] = incoming['x-forwarded-host'] || client.host;
  } else {
    out['x-forwarded-for'] = client.remoteAddress;
    out['x-forwarded-proto'] = client.proto;
    out['x-forwarded-host'] = client.host;
  }
  out['x-real-ip'] = client.clientAddress;
  out['x-request-id'] = incoming['x-request-id'] || randomUUID();
  return out;
}

/** A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6; X-Forwarded-For should carry the plain address. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Client response headers from the parser's flat [name, value, …] list (names already lower-case):
 * hop-by-hop and Content-Length dropped (the server layer states the length it sends), repeated
 * names kept.
 */
export function responseHeaders(flat: string[]): [string, string][] {
  let tokens: ReadonlySet<string> = EMPTY;
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'connection') tokens = connectionTokens(flat[i + 1]);
  const headers: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    if (name === 'content-length' || isHopByHop(name, tokens)) continue;
    headers.push([name, flat[i + 1]!]);
  }
  return headers;
}
