import type { IRequest } from 'itty-router';
import type { Deps } from '../deps.js';
import { json } from '../http.js';
import { publishedJwks } from './keys.js';

/** GET /.well-known/jwks.json: public; verifiers may cache it for a few minutes (the next key is always in it). */
export async function getCatalogJwks(_request: IRequest, deps: Deps): Promise<Response> {
  return json(await publishedJwks(deps.env, deps.db()), 200, { 'cache-control': 'public, max-age=300' });
}
