import type { IRequest } from 'itty-router';
import type { Whoami } from '../../protocol/index.js';
import { requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { json } from '../http.js';

export async function whoami(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  return json({ user: { id: user.id, name: user.name, isAdmin: user.isAdmin } } satisfies Whoami);
}
