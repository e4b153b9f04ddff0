/**
 * The builder's side of builds (node credential): claim a queued build, report progress and log
 * lines, fetch the source and the cache, store the cache and the artifact. A builder asks for work
 * only while idle (node-agent/build/loop.ts): the cost is one indexed query per builder per poll,
 * nothing per heartbeat, nothing that grows with the cluster.
 */
import type { IRequest } from 'itty-router';
import { BUILD_LOG_MAX_LINES, BUILDER_LABEL, BuildReport, CreateDeployment, DIGEST_PATTERN, type BuildAssignment,
  type BuildReportResponse, type ClaimResponse } from '../../protocol/index.js';
import { decrypt } from '../../protocol/crypto.js';
import { requireNode } from '../auth.js';
import { transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson, readLimited } from '../http.js';
import { maxArtifactBytes } from '../api/artifacts.js';
import { insertDeployment } from '../api/deployments.js';
import { reapBuilds } from './reap.js';

/** POST /scheduler/v1/nodes/:id/builds/claim: the oldest queued build for this idle builder, or null. */
export async function claimBuild(request: IRequest, deps: Deps): Promise<Response> {
  const node = await requireNode(request, deps, request.params.id!);
  const db = deps.db();
  const { rows: nodes } = await db.query(`SELECT labels ? $2 AND labels->>$2 <> 'false' AS builder, draining_since IS NOT NULL AS draining
    FROM nodes WHERE id = $1`, [node.id, BUILDER_LABEL]);
  if (!nodes[0]?.builder) throw new HttpError(403, 'not_a_builder', `node ${node.name} has no "${BUILDER_LABEL}" label; builds run only on builder nodes`);
  await reapBuilds(deps, db);
  // The builder asks only when idle: a build still running here was cut off by an agent restart.
  await db.query(
    `UPDATE builds SET status = 'failed', finished_at = now(),
       error = 'the builder agent on ' || $2 || ' restarted during step ' || coalesce(step, '?') || '; run the build again'
     WHERE node_id = $1 AND status = 'running'`,
    [node.id, node.name],
  );
  if (nodes[0].draining) return json({ build: null } satisfies ClaimResponse);
  const claimed = await transaction(db, async (tx) => {
    const { rows } = await tx.query(
      `SELECT id FROM builds WHERE status = 'queued' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`);
    if (!rows[0]) return null;
    const { rows: taken } = await tx.query(
      `UPDATE builds b SET status = 'running', node_id = $2, started_at = now(), lease_at = now(), step = 'download'
       FROM projects p WHERE b.id = $1 AND p.id = b.project_id
       RETURNING b.id, b.project_id, p.slug, b.source_digest, b.config, b.log_seq`,
      [rows[0].id, node.id],
    );
    return taken[0] ?? null;
  });
  if (!claimed) return json({ build: null } satisfies ClaimResponse);
  // Env values leave the database only here, for this build: the named build vars go into its
  // environment, every value of the project is masked in its log.
  const { rows: vars } = await db.query('SELECT key, value_enc FROM env_vars WHERE project_id = $1', [claimed.project_id]);
  const wanted = new Set<string>(claimed.config.buildVars ?? []);
  const buildEnv: Record<string, string> = {};
  const secrets: string[] = [];
  for (const v of vars) {
    const value = await decrypt(deps.env.ENV_ENCRYPTION_KEY, v.value_enc);
    if (wanted.has(v.key)) buildEnv[v.key] = value;
    if (value.length >= 4) secrets.push(value);
  }
  const build: BuildAssignment = {
    id: claimed.id, project: claimed.slug, projectId: claimed.project_id, sourceDigest: claimed.source_digest,
    config: claimed.config, buildEnv, secrets, logSeq: Number(claimed.log_seq),
  };
  return json({ build } satisfies ClaimResponse);
}

interface OwnBuild {
  id: string;
  project_id: string;
  status: string;
  source_digest: string;
  cache_key: string | null;
  deploy: boolean;
  created_by: string | null;
  plan: { start?: string } | null;
  deployment_id: string | null;
}

/** The build, when it runs (or ran) on the calling node; anything else is the same 404. */
async function ownBuild(request: IRequest, deps: Deps): Promise<OwnBuild> {
  const node = await requireNode(request, deps);
  const { rows } = await deps.db().query(
    'SELECT id, project_id, status, source_digest, cache_key, deploy, created_by, plan, deployment_id FROM builds WHERE id = $1 AND node_id = $2',
    [request.params.id!, node.id]);
  if (!rows[0]) throw new HttpError(404, 'build_not_found', `build ${request.params.id} is not a build of node ${node.id}`);
  return rows[0] as OwnBuild;
}

const running = (b: OwnBuild) => {
  if (b.status !== 'running') throw new HttpError(409, 'build_ended', `build ${b.id} is ${b.status}`);
};

/** POST /scheduler/v1/builds/:id/report: log lines (idempotent by seq), step, plan, cache, and the outcome. */
export async function reportBuild(request: IRequest, deps: Deps): Promise<Response> {
  const build = await ownBuild(request, deps);
  const report = await readJson(request, BuildReport, 4 * 1024 * 1024);
  const db = deps.db();
  if (report.lines.length) {
    await db.query(
      `INSERT INTO build_logs (build_id, seq, at, stream, line)
       SELECT $1, e.seq, to_timestamp(e.at / 1000.0), e.stream, e.line
       FROM unnest($2::bigint[], $3::float8[], $4::text[], $5::text[]) AS e(seq, at, stream, line)
       ON CONFLICT (build_id, seq) DO NOTHING`,
      [build.id, report.lines.map((l) => l.seq), report.lines.map((l) => l.at), report.lines.map((l) => l.stream), report.lines.map((l) => l.line)],
    );
    const top = Math.max(...report.lines.map((l) => l.seq));
    await db.query('UPDATE builds SET log_seq = greatest(log_seq, $2) WHERE id = $1', [build.id, top]);
    // The bound: the oldest lines beyond BUILD_LOG_MAX_LINES go (the logs route says so).
    if (top > BUILD_LOG_MAX_LINES) await db.query('DELETE FROM build_logs WHERE build_id = $1 AND seq <= $2', [build.id, top - BUILD_LOG_MAX_LINES]);
  }
  if (build.status === 'running') {
    const result = report.result;
    // A build that deploys shows `succeeded` only together with its deployment: the release is made first.
    const deploymentId = result?.status === 'succeeded' && build.deploy ? await deployBuild(deps, build, result.artifactDigest, report.plan ?? build.plan) : null;
    // deps.db() again: creating the release handed the request's connections back (evaluateFor).
    await deps.db().query(
      `UPDATE builds SET lease_at = now(), step = coalesce($2, step), plan = coalesce($3, plan), cache_key = coalesce($4, cache_key),
         cache = coalesce($5, cache), status = coalesce($6, status), error = $7, artifact_digest = $8, deployment_id = $9,
         finished_at = CASE WHEN $6::text IS NULL THEN NULL ELSE now() END
       WHERE id = $1 AND status = 'running'`,
      [build.id, report.step ?? null, report.plan ? JSON.stringify(report.plan) : null, report.cacheKey ?? null, report.cache ?? null,
        result?.status ?? null, result && 'error' in result ? result.error : null, result && 'artifactDigest' in result ? result.artifactDigest : null,
        deploymentId],
    );
  }
  const { rows } = await deps.db().query('SELECT status, log_seq FROM builds WHERE id = $1', [build.id]);
  return json({ ackedSeq: Number(rows[0].log_seq), stop: rows[0].status !== 'running' } satisfies BuildReportResponse);
}

/**
 * The release of a build that deploys: the ordinary deployment path (env snapshot, health-gated
 * cutover), with the live release's replicas, health check and resources when there is one.
 */
async function deployBuild(deps: Deps, build: OwnBuild, artifact: string, plan: { start?: string } | null): Promise<string> {
  // Recorded as soon as made (below): a report retried after a lost answer makes no second release.
  if (build.deployment_id) return build.deployment_id;
  const db = deps.db();
  const owned = await db.query('SELECT 1 FROM artifact_owners WHERE project_id = $1 AND digest = $2', [build.project_id, artifact]);
  if (!owned.rows[0]) throw new HttpError(409, 'artifact_not_uploaded', `artifact ${artifact.slice(0, 19)}… of build ${build.id} was not uploaded (PUT /scheduler/v1/builds/${build.id}/artifact)`);
  const { rows: live } = await db.query(
    `SELECT d.replicas, d.health_check, d.resources, d.restart_policy FROM projects p JOIN deployments d ON d.id = p.live_deployment_id WHERE p.id = $1`,
    [build.project_id]);
  const spec = CreateDeployment.parse({
    artifact,
    command: plan?.start ?? 'npm start',
    ...(live[0] ? { replicas: live[0].replicas, healthCheck: live[0].health_check, resources: live[0].resources, restartPolicy: live[0].restart_policy } : {}),
  });
  const id = await insertDeployment(deps, build.project_id, build.created_by, spec);
  await deps.db().query('UPDATE builds SET deployment_id = $2 WHERE id = $1', [build.id, id]);
  return id;
}

/** GET /scheduler/v1/builds/:id/source: the source artifact of a running build of this node. */
export async function getBuildSource(request: IRequest, deps: Deps): Promise<Response> {
  const build = await ownBuild(request, deps);
  running(build);
  return blob(deps, build.source_digest);
}

const cacheObject = (b: OwnBuild) => {
  if (!b.cache_key || !DIGEST_PATTERN.test(b.cache_key)) throw new HttpError(409, 'no_cache_key', `build ${b.id} reported no cache key yet`);
  return `build-cache/${b.project_id}/${b.cache_key}`;
};

/** GET /scheduler/v1/builds/:id/cache: the project's package manager cache for the build's reported cache key (404: a miss). */
export async function getBuildCache(request: IRequest, deps: Deps): Promise<Response> {
  const build = await ownBuild(request, deps);
  running(build);
  return blob(deps, cacheObject(build));
}

/** PUT /scheduler/v1/builds/:id/cache: stores the cache for the build's cache key (any builder can use it next time). */
export async function putBuildCache(request: IRequest, deps: Deps): Promise<Response> {
  const build = await ownBuild(request, deps);
  running(build);
  const key = cacheObject(build);
  const bytes = await readLimited(request, maxArtifactBytes(deps.env));
  await deps.env.ARTIFACTS.put(key, bytes);
  await deps.db().query(
    `INSERT INTO build_caches (project_id, cache_key, digest, size) VALUES ($1, $2, $3, $4)
     ON CONFLICT (project_id, cache_key) DO UPDATE SET size = EXCLUDED.size, created_at = now()`,
    [build.project_id, build.cache_key, key, bytes.byteLength]);
  return json({ size: bytes.byteLength }, 201);
}

/** PUT /scheduler/v1/builds/:id/artifact: the build's output, owned by the build's project from now on. */
export async function putBuildArtifact(request: IRequest, deps: Deps): Promise<Response> {
  const build = await ownBuild(request, deps);
  running(build);
  const bytes = await readLimited(request, maxArtifactBytes(deps.env));
  if (bytes.byteLength < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new HttpError(400, 'invalid_artifact', 'an artifact must be a .tar.gz');
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const digest = `sha256:${[...hash].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  const db = deps.db();
  const known = await db.query('SELECT 1 FROM artifacts WHERE digest = $1', [digest]);
  if (!known.rows[0]) {
    await deps.env.ARTIFACTS.put(digest, bytes, { sha256: digest.slice(7) });
    await db.query('INSERT INTO artifacts (digest, size, created_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [digest, bytes.byteLength, build.created_by]);
  }
  await db.query('INSERT INTO artifact_owners (project_id, digest, created_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    build.project_id, digest, build.created_by]);
  return json({ digest, size: bytes.byteLength }, known.rows[0] ? 200 : 201);
}

async function blob(deps: Deps, key: string): Promise<Response> {
  const object = await deps.env.ARTIFACTS.get(key);
  if (!object) throw new HttpError(404, 'blob_not_found', 'not in the registry');
  return new Response(object.body as unknown as ReadableStream, {
    headers: { 'content-type': 'application/gzip', 'content-length': String(object.size) },
  });
}
