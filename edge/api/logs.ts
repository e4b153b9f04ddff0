import type { IRequest } from 'itty-router';
import { LogBatch, LogQuery, type LogAck, type LogLine, type LogPage } from '../../protocol/index.js';
import { requireNode, requireProject, requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson, readQuery } from '../http.js';

/** POST /api/v1/tasks/:id/logs: idempotent by (task, seq); answers the highest contiguous seq stored. */
export async function ingestLogs(request: IRequest, deps: Deps): Promise<Response> {
  const node = await requireNode(request, deps);
  const taskId = request.params.id!;
  const { entries } = await readJson(request, LogBatch, 4 * 1024 * 1024);
  const db = deps.db();
  const task = await db.query('SELECT log_acked_seq FROM tasks WHERE id = $1 AND node_id = $2', [taskId, node.id]);
  if (!task.rows[0]) throw new HttpError(404, 'task_not_found', `task ${taskId} is not a task of node ${node.id}`);
  await db.query(
    `INSERT INTO task_logs (task_id, seq, ts, stream, line)
     SELECT $1, e.seq, to_timestamp(e.ts / 1000.0), e.stream, e.line
     FROM unnest($2::bigint[], $3::float8[], $4::text[], $5::text[]) AS e(seq, ts, stream, line)
     ON CONFLICT (task_id, seq) DO NOTHING`,
    [taskId, entries.map((e) => e.seq), entries.map((e) => e.ts), entries.map((e) => e.stream), entries.map((e) => e.line)],
  );
  // Advance the contiguous mark: rows after it whose seq - row_number() equals it form the run.
  const { rows } = await db.query(
    `WITH run AS (
       SELECT seq, seq - row_number() OVER (ORDER BY seq) AS gap FROM task_logs WHERE task_id = $1 AND seq > $2
     )
     UPDATE tasks SET log_acked_seq = coalesce((SELECT max(seq) FROM run WHERE gap = $2), $2)
     WHERE id = $1 RETURNING log_acked_seq`,
    [taskId, task.rows[0].log_acked_seq],
  );
  return json({ ackedSeq: Number(rows[0].log_acked_seq) } satisfies LogAck);
}

/** GET /api/v1/projects/:project/logs?after=&limit=&deployment=&task=&since=: newest `limit` lines, or lines after a cursor or time. */
export async function readLogs(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  const { after, limit, deployment, task, since } = readQuery(request, LogQuery);
  const filters = `d.project_id = $1 AND ($2::text IS NULL OR d.id = $2) AND ($5::text IS NULL OR l.task_id = $5)
    AND ($6::timestamptz IS NULL OR l.ts >= $6) AND l.id > $4::bigint`;
  // With `since` and no cursor, read forwards from that time (oldest first) so a caller can page on.
  const sql = after === undefined && since === undefined
    ? `SELECT * FROM (SELECT l.*, t.deployment_id FROM task_logs l JOIN tasks t ON t.id = l.task_id JOIN deployments d ON d.id = t.deployment_id
         WHERE ${filters} ORDER BY l.id DESC LIMIT $3) x ORDER BY id`
    : `SELECT l.*, t.deployment_id FROM task_logs l JOIN tasks t ON t.id = l.task_id JOIN deployments d ON d.id = t.deployment_id
         WHERE ${filters} ORDER BY l.id LIMIT $3`;
  const args: unknown[] = [project.id, deployment ?? null, limit, after ?? 0, task ?? null, since ?? null];
  const { rows } = await deps.db().query(sql, args);
  const lines: LogLine[] = rows.map((r) => ({
    cursor: Number(r.id),
    taskId: r.task_id,
    deploymentId: r.deployment_id,
    seq: Number(r.seq),
    ts: new Date(r.ts).toISOString(),
    stream: r.stream,
    line: r.line,
  }));
  const cursor = lines.length ? lines[lines.length - 1]!.cursor : Number(after ?? 0);
  return json({ lines, cursor } satisfies LogPage);
}
