import { z } from 'zod';
import { MAX_EPOCH_MS, cursor, line, pageLimit, reported, since } from './fields.js';

export const LogStream = z.enum(['stdout', 'stderr', 'system']);
export type LogStream = z.infer<typeof LogStream>;

export const LogEntry = z.object({
  seq: z.number().int().min(1),
  /** Milliseconds since the epoch, taken when the agent read the line. */
  ts: z.number().int().min(0).max(MAX_EPOCH_MS),
  stream: LogStream,
  /** What the app printed: NUL and broken surrogates become U+FFFD rather than refusing the batch. */
  line: reported(16_384),
});
export type LogEntry = z.infer<typeof LogEntry>;

/** POST /api/v1/tasks/:id/logs (node credential). Re-sent entries are ignored, so batches are idempotent. */
export const LogBatch = z.object({ entries: z.array(LogEntry).min(1).max(1_000) });
export type LogBatch = z.infer<typeof LogBatch>;

/** Highest seq such that every seq from 1 to it is stored; the agent resends from there. */
export interface LogAck {
  ackedSeq: number;
}

/** GET /api/v1/projects/:project/logs?after=&limit=&deployment=&task=&since= */
export const LogQuery = z.object({
  /** A cursor from an earlier page: only lines after it, oldest first. */
  after: cursor.optional(),
  limit: pageLimit(1_000, 100),
  deployment: line(64).optional(),
  task: line(64).optional(),
  /** Only lines from then on, oldest first: an ISO 8601 time or a duration back from now (10m). */
  since: since.optional(),
});
export type LogQuery = z.infer<typeof LogQuery>;

export interface LogLine {
  cursor: number;
  taskId: string;
  deploymentId: string;
  seq: number;
  ts: string;
  stream: LogStream;
  line: string;
}
export interface LogPage {
  lines: LogLine[];
  /** Pass as `after` to get only newer lines (follow mode). */
  cursor: number;
}
