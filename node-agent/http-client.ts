/**
 * The agent's outgoing HTTP on node:http/node:https instead of global fetch: the first fetch() loads
 * undici, ~9 MB of RSS kept for the agent's whole life on every VM (issue #3).
 */
import http, { type IncomingMessage } from 'node:http';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Aborts the request and, after the answer's head, the reading of its body. */
  signal: AbortSignal;
  /** Called once the whole body has been handed to the OS (nothing reads it afterwards). */
  onBodySent?: () => void;
}

/** Sends one request and resolves with the response head; the caller must consume or `resume()` the body. */
export async function request(url: string, options: RequestOptions): Promise<IncomingMessage> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`unsupported protocol ${target.protocol}`);
  // node:https (and TLS) is loaded only when the control plane is actually reached over https.
  const transport = target.protocol === 'https:' ? await import('node:https') : http;
  const headers = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method: options.method ?? 'GET', headers, signal: options.signal }, resolve);
    req.on('error', reject);
    if (options.onBodySent) req.once('finish', options.onBodySent);
    req.end(options.body);
  });
}

/** The whole body as text (rejects if the connection breaks or the signal fires meanwhile). */
export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What went wrong, with the cause that helps: "connect ECONNREFUSED 127.0.0.1:1", a DNS code, a timeout. */
export function requestErrorMessage(err: unknown, signal?: AbortSignal): string {
  // A timeout mid-body surfaces only as "aborted"; the signal knows why.
  if (signal?.aborted) return signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  const error = err as Error & { code?: string };
  return error.code && !error.message.includes(error.code) ? `${error.message} (${error.code})` : error.message;
}
