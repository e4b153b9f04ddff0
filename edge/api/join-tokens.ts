import type { IRequest } from 'itty-router';
import { CreateJoinToken, generateToken, hashToken, newId, type CreatedJoinToken } from '../../protocol/index.js';
import { requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { json, readJson } from '../http.js';
import { requireAdmin } from './admin.js';

/** POST /api/v1/join-tokens: a secret a new agent registers with (ZECTRE_JOIN_TOKEN); shown once, expires, optionally single-use. */
export async function createJoinToken(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  requireAdmin(user, 'creating join tokens');
  const { expiresInSeconds, singleUse } = await readJson(request, CreateJoinToken);
  const secret = generateToken('zj');
  const id = newId('k');
  const db = deps.db();
  const { rows } = await db.query(
    `INSERT INTO join_tokens (id, token_hash, created_by, expires_at, single_use) VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)
     RETURNING expires_at`,
    [id, await hashToken(secret), user.id, expiresInSeconds, singleUse],
  );
  await db.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'join_token.created', $2)`, [user.id, JSON.stringify({ joinTokenId: id, singleUse })]);
  const answer: CreatedJoinToken = { id, secret, expiresAt: new Date(rows[0].expires_at).toISOString(), singleUse };
  return json(answer, 201);
}
