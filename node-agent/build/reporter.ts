/**
 * Sends a build's log lines (batched: at most every FLUSH_MS), progress and outcome to the edge, and
 * a report at least every KEEPALIVE_MS (the edge fails a build silent for a minute). The answer says
 * whether the build was canceled: `onStop` then fires once.
 */
import type { BuildLogLine, BuildReport, BuildReportResponse } from '../../protocol/index.js';
import { BUILD_LOG_LINE_MAX } from '../../protocol/index.js';
import { postJson } from '../http-json.js';
import { Backoff } from '../backoff.js';

const FLUSH_MS = 250;
const KEEPALIVE_MS = 5_000;
const BATCH = 500;
/** Lines held while the edge cannot be reached; beyond, the oldest are dropped (the build still runs). */
const MAX_PENDING = 20_000;

type Entry = { seq: number; at: number; stream: BuildLogLine['stream']; line: string };

export class BuildReporter {
  private seq = 0;
  private pending: Entry[] = [];
  private progress: Omit<BuildReport, 'lines' | 'result'> = {};
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly credential: () => string,
    private readonly onStop: () => void,
    private readonly log: (msg: string) => void,
    /** Lines the edge wrote before the build was claimed ("waiting for a builder"): ours follow them. */
    firstSeq = 0,
  ) {
    this.seq = firstSeq;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), KEEPALIVE_MS);
  }

  line(stream: Entry['stream'], text: string): void {
    this.pending.push({ seq: ++this.seq, at: Date.now(), stream, line: text.length > BUILD_LOG_LINE_MAX ? `${text.slice(0, BUILD_LOG_LINE_MAX - 1)}…` : text });
    if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
    if (this.pending.length >= BATCH) void this.flush();
    else if (this.pending.length === 1) setTimeout(() => void this.flush(), FLUSH_MS);
  }

  system(text: string): void {
    this.line('system', text);
  }

  update(progress: Omit<BuildReport, 'lines' | 'result'>): Promise<void> {
    Object.assign(this.progress, progress);
    return this.flush();
  }

  /** The last report: every line left, then the outcome; retried for a while (the edge may be briefly away). */
  async finish(result: NonNullable<BuildReport['result']>): Promise<void> {
    clearInterval(this.timer);
    const backoff = new Backoff(500, 5_000, true);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.flush();
        if (!this.pending.length) {
          await this.send({ lines: [], ...this.progress, result });
          return;
        }
      } catch (err) {
        if (attempt >= 20) throw err;
      }
      await new Promise((r) => setTimeout(r, backoff.next()));
    }
  }

  /** One report in flight at a time; lines stay pending until the edge stored them. */
  flush(): Promise<void> {
    this.sending = this.sending.then(async () => {
      const batch = this.pending.slice(0, BATCH);
      try {
        const answer = await this.send({ lines: batch, ...this.progress });
        const sent = new Set(batch);
        if (answer.ackedSeq >= (batch.at(-1)?.seq ?? 0)) this.pending = this.pending.filter((e) => !sent.has(e));
      } catch (err) {
        this.log(`build report failed (kept for the next one): ${(err as Error).message}`);
      }
    });
    return this.sending;
  }

  private async send(body: BuildReport): Promise<BuildReportResponse> {
    const answer = await postJson<BuildReportResponse>(this.url, this.credential(), body);
    if (answer.stop && !this.stopped) {
      this.stopped = true;
      this.onStop();
    }
    return answer;
  }
}
