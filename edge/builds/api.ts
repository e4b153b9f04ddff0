/** The builds API for people (issue 13): create, list, show, follow the log, cancel. */
import type { IRequest } from 'itty-router';
import { BUILD_ENDED, BUILD_LOG_MAX_LINES, BuildLogQuery, CreateBuild, newId, type BuildLogLine, type BuildLogPage } from '../../protocol/index.js';
import { requireProject, requireUser, type Role } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, json, notFound, readJson, readQuery } from '../http.js';
import { addBuilderHint, BUILDERS_ONLINE, queueTimeoutSeconds, reapBuilds } from './reap.js';
import { loadBuild, loadBuilds } from './view.js';
import { projectOwnsArtifact } from '../api/artifacts.js';

/** POST /api/v1/projects/:project/builds (developer): queues a build; 503 no_builder when no builder is online. */
export async function createBuild(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const body = await readJson(request, CreateBuild);
  if (!(await projectOwnsArtifact(deps, project.id, body.sourceDigest))) {
    throw new HttpError(404, 'artifact_not_found',
      `source ${body.sourceDigest.slice(0, 19)}… not found in the registry of ${project.slug}; upload it first (PUT /api/v1/projects/${project.slug}/artifacts)`);
  }
  const db = deps.db();
  const { rows } = await db.query(BUILDERS_ONLINE);
  const { online, busy } = rows[0] as { online: number; busy: number };
  if (!online) throw new HttpError(503, 'no_builder', `no builder node is online; ${addBuilderHint(deps)}`);
  const id = newId('b');
  await db.query(
    `INSERT INTO builds (id, project_id, source_digest, deploy, config, created_by, log_seq) VALUES ($1, $2, $3, $4, $5, $6, 1)`,
    [id, project.id, body.sourceDigest, body.deploy, JSON.stringify(body.config), user.id],
  );
  // Line 1 of the log until a builder takes the build (its lines follow: the claim hands it log_seq).
  await db.query(`INSERT INTO build_logs (build_id, seq, at, stream, line) VALUES ($1, 1, now(), 'system', $2)`, [id,
    `waiting for a builder (${online} online, ${busy} busy; failed if none takes it within ${queueTimeoutSeconds(deps)} s)`]);
  await db.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'build.created', $3)`, [
    user.id, project.id, JSON.stringify({ buildId: id, source: body.sourceDigest, deploy: body.deploy }),
  ]);
  return json({ build: await loadBuild(deps, id) }, 201);
}

/** GET /api/v1/projects/:project/builds (viewer): newest first, 50. */
export async function listBuilds(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  await reapBuilds(deps, deps.db(), 'b.project_id = $1', [project.id]);
  return json({ builds: await loadBuilds(deps, 'b.project_id = $1', [project.id]) });
}

/** The build and its project, for a person holding `role` on that project; another project's build is as unknown as a missing one. */
async function requireBuild(request: IRequest, deps: Deps, role: Role): Promise<{ id: string; projectId: string; status: string }> {
  const user = await requireUser(request, deps);
  const id = request.params.id!;
  const { rows } = await deps.db().query(
    'SELECT b.id, b.project_id, b.status, p.slug FROM builds b JOIN projects p ON p.id = b.project_id WHERE b.id = $1', [id]);
  if (!rows[0]) throw notFound(`build ${id}`);
  await requireProject(deps, user, rows[0].slug, role).catch((err) => {
    throw err instanceof HttpError && err.status === 404 ? notFound(`build ${id}`) : err;
  });
  return { id, projectId: rows[0].project_id, status: rows[0].status };
}

/** GET /api/v1/builds/:id (viewer of its project). */
export async function getBuild(request: IRequest, deps: Deps): Promise<Response> {
  const build = await requireBuild(request, deps, 'viewer');
  await reapBuilds(deps, deps.db(), 'b.id = $1', [build.id]);
  return json({ build: await loadBuild(deps, build.id) });
}

const POLL_MS = 500;
const PAGE = 1_000;

/**
 * GET /api/v1/builds/:id/logs?after=&wait= (viewer): lines after `after`, at most 1,000; with `wait`
 * (up to 25 s) the answer comes as soon as there is a line or the build ended. No connection is held
 * while waiting (the pool is released between polls).
 */
export async function buildLogs(request: IRequest, deps: Deps): Promise<Response> {
  const build = await requireBuild(request, deps, 'viewer');
  const { after, wait } = readQuery(request, BuildLogQuery);
  const deadline = Date.now() + wait * 1000;
  for (;;) {
    const db = deps.db();
    await reapBuilds(deps, db, 'b.id = $1', [build.id]);
    // The build's status and its next lines in one round trip (a row with no line when there is none yet).
    const { rows: page } = await db.query(
      `SELECT b.status, l.seq, l.at, l.stream, l.line FROM builds b
       LEFT JOIN LATERAL (SELECT seq, at, stream, line FROM build_logs WHERE build_id = b.id AND seq > $2 ORDER BY seq LIMIT ${PAGE}) l ON true
       WHERE b.id = $1 ORDER BY l.seq`,
      [build.id, after],
    );
    const status = page[0]?.status as string;
    const rows = page.filter((r) => r.seq !== null);
    const lines: BuildLogLine[] = rows.map((r) => ({ seq: Number(r.seq), at: new Date(r.at).toISOString(), stream: r.stream, line: r.line }));
    // Lines beyond the bound were dropped oldest first: say so where they were.
    if (lines.length && lines[0]!.seq > after + 1 && lines[0]!.seq > 1) {
      lines.unshift({ seq: lines[0]!.seq - 1, at: lines[0]!.at, stream: 'system',
        line: `[${lines[0]!.seq - 1 - after} earlier lines dropped: a build keeps its last ${BUILD_LOG_MAX_LINES} lines]` });
    }
    const ended = (BUILD_ENDED as string[]).includes(status);
    const done = ended && rows.length < PAGE;
    if (lines.length || ended || Date.now() + POLL_MS > deadline) return json({ lines, done } satisfies BuildLogPage);
    await deps.releaseDb();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** POST /api/v1/builds/:id/cancel (developer): a queued build ends at once; a running one is killed by its builder at its next report. */
export async function cancelBuild(request: IRequest, deps: Deps): Promise<Response> {
  const build = await requireBuild(request, deps, 'developer');
  await deps.db().query(
    `UPDATE builds SET status = 'canceled', finished_at = now(), error = 'canceled during step ' || coalesce(step, 'queued')
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [build.id],
  );
  return json({ build: await loadBuild(deps, build.id) });
}
