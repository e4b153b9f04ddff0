import { useEffect, useRef, useState } from 'preact/hooks';
import type { LogLine, LogPage } from '../../../protocol/logs.js';
import { api } from '../api.js';
import { ErrorBox } from './states.js';

const KEEP = 500;

/** Follows the project's logs: the newest lines first, then everything after the last cursor, every second. */
export function LogTail({ project }: { project: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<Error>();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let stopped = false;
    let cursor: number | null = null;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      try {
        const page: LogPage = await api<LogPage>(
          `/projects/${project}/logs?limit=200${cursor === null ? '' : `&after=${cursor}`}`,
        );
        if (stopped) return;
        cursor = page.cursor;
        if (page.lines.length) setLines((old) => [...old, ...page.lines].slice(-KEEP));
        setLoaded(true);
        setError(undefined);
      } catch (err) {
        if (!stopped) setError(err as Error);
      }
      if (!stopped) timer = setTimeout(poll, 1000);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [project]);
  // Stick to the bottom unless the reader scrolled up.
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <>
      <ErrorBox error={error} context="Log tail paused" />
      <div class="logs" ref={box} aria-live="polite">
        {!loaded && !error && <p class="muted">Loading logs…</p>}
        {loaded && !lines.length && <p class="muted">No log lines yet; new lines appear here as the app writes them.</p>}
        {lines.map((l) => (
          <div class={`line ${l.stream}`} key={l.cursor}>
            <span class="ts">{l.ts.slice(11, 19)}</span>
            <span class="src" title={`${l.deploymentId} / ${l.taskId}`}>
              {l.taskId.slice(-4)}
            </span>
            <span class="text">{l.line}</span>
          </div>
        ))}
      </div>
    </>
  );
}
