import type { IRequest } from 'itty-router';
import { SetEnv, type EnvVar } from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import { decrypt, encrypt } from '../../protocol/crypto.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';
import { releaseEnvChange } from './env-release.js';

/** Each deployment snapshots the env; a change also starts a new release of the live one (env-release.ts). */
export async function listEnv(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const reveal = new URL(request.url).searchParams.get('reveal') === 'true';
  const project = await requireProject(deps, user, request.params.project!, reveal ? 'owner' : 'viewer');
  const { rows } = await deps.db().query('SELECT key, value_enc, updated_at FROM env_vars WHERE project_id = $1 ORDER BY key', [project.id]);
  const vars: EnvVar[] = [];
  for (const r of rows) {
    const v: EnvVar = { key: r.key, updatedAt: new Date(r.updated_at).toISOString() };
    if (reveal) v.value = await decrypt(deps.env.ENV_ENCRYPTION_KEY, r.value_enc);
    vars.push(v);
  }
  return json({ vars });
}

export async function setEnv(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const body = await readJson(request, SetEnv);
  const keys = Object.keys(body.vars);
  if (!keys.length) throw new HttpError(400, 'invalid_request', 'vars: give at least one KEY=value');
  const db = deps.db();
  const vars: EnvVar[] = [];
  for (const key of keys) {
    const { rows } = await db.query(
      `INSERT INTO env_vars (project_id, key, value_enc) VALUES ($1, $2, $3)
       ON CONFLICT (project_id, key) DO UPDATE SET value_enc = EXCLUDED.value_enc, updated_at = now() RETURNING updated_at`,
      [project.id, key, await encrypt(deps.env.ENV_ENCRYPTION_KEY, body.vars[key]!)],
    );
    vars.push({ key, updatedAt: new Date(rows[0].updated_at).toISOString() });
  }
  // The audit trail names keys only; values are secrets.
  await db.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'env.set', $3)`, [user.id, project.id, JSON.stringify({ keys })]);
  return json({ vars, release: await releaseEnvChange(deps, user, project, { set: body.vars }) });
}

export async function unsetEnv(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const key = request.params.key!;
  const { rowCount } = await deps.db().query('DELETE FROM env_vars WHERE project_id = $1 AND key = $2', [project.id, key]);
  if (!rowCount) throw new HttpError(404, 'env_var_not_found', `project ${project.slug} has no env var ${key}`);
  await deps.db().query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'env.unset', $3)`, [user.id, project.id, JSON.stringify({ keys: [key] })]);
  return json({ deleted: key, release: await releaseEnvChange(deps, user, project, { unset: [key] }) });
}
