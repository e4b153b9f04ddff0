import { useEffect, useRef, useState } from 'preact/hooks';
import type { LogLine, LogPage } from '../../../protocol/logs.js';
import { api } from '../api.js';
import { ErrorBox } from './states.js';

const KEEP = 500;

/** Follows the project's logs: the newest lines, then everything after the last cursor, every second (unless paused). */
export function LogTail({ project }: { project: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<Error>();
  const [filter, setFilter] = useState('');
  const [paused, setPaused] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  useEffect(() => {
    let stopped = false;
    let cursor: number | null = null;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      if (pausedRef.current) {
        timer = setTimeout(poll, 1000);
        return;
      }
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
  const shown = filter ? lines.filter((l) => l.line.toLowerCase().includes(filter.toLowerCase())) : lines;
  return (
    <>
      <div class="inline">
        <input type="search" aria-label="filter logs" placeholder="Filter lines" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        <button type="button" class="small" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <ErrorBox error={error} context="Log tail interrupted" />
      <div class="logs" ref={box} aria-live="polite">
        {!loaded && !error && <p class="muted">Loading logs…</p>}
        {loaded && !lines.length && <p class="muted">No log lines yet; new lines appear here as the app writes them.</p>}
        {loaded && lines.length > 0 && !shown.length && <p class="muted">No line matches “{filter}”.</p>}
        {shown.map((l) => (
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
