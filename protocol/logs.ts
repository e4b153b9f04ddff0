import { z } from 'zod';

export const LogStream = z.enum(['stdout', 'stderr', 'system']);
export type LogStream = z.infer<typeof LogStream>;

export const LogEntry = z.object({
  seq: z.number().int().min(1),
  /** Milliseconds since the epoch, taken when the agent read the line. */
  ts: z.number().int().min(0),
  stream: LogStream,
  line: z.string().max(16_384),
});
export type LogEntry = z.infer<typeof LogEntry>;

/** POST /api/v1/tasks/:id/logs (node credential). Re-sent entries are ignored, so batches are idempotent. */
export const LogBatch = z.object({ entries: z.array(LogEntry).min(1).max(1_000) });
export type LogBatch = z.infer<typeof LogBatch>;

/** Highest seq such that every seq from 1 to it is stored; the agent resends from there. */
export interface LogAck {
  ackedSeq: number;
}

/** GET /api/v1/projects/:project/logs?after=<cursor> */
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
