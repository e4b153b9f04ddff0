/** Blob transfers of a build (source and cache down, cache and artifact up), with the node credential. */
import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { readText, request, requestErrorMessage } from '../http-client.js';

const TIMEOUT_MS = 10 * 60_000;

async function send(url: string, credential: string, method: 'GET' | 'PUT', body?: Buffer): Promise<IncomingMessage> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const headers: Record<string, string> = { authorization: `Bearer ${credential}`, ...(body ? { 'content-type': 'application/gzip' } : {}) };
  try {
    return await request(url, { method, headers, ...(body ? { body } : {}), signal });
  } catch (err) {
    throw new Error(`${method} ${url} failed: ${requestErrorMessage(err, signal)}`);
  }
}

/** Downloads to `file`; false on 404 (a cache miss), throws on anything else but 200. */
export async function download(url: string, credential: string, file: string): Promise<boolean> {
  const res = await send(url, credential, 'GET');
  if (res.statusCode === 404) {
    res.resume();
    return false;
  }
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${(await readText(res)).slice(0, 300)}`);
  await pipeline(res, createWriteStream(file, { mode: 0o600 }));
  return true;
}

export async function upload<T>(url: string, credential: string, data: Buffer): Promise<T> {
  const res = await send(url, credential, 'PUT', data);
  const text = await readText(res);
  if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) throw new Error(`PUT ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}
