import { useEffect, useRef, useState } from 'preact/hooks';
import type { BuildLogLine, BuildLogPage } from '../../../protocol/builds.js';
import { api } from '../api.js';
import { ErrorBox } from './states.js';

const KEEP = 2_000;
/** The server answers a long poll within 25 s; 20 leaves room for a proxy's idle timeout. */
const WAIT_S = 20;
/** After a failed poll (network blip, edge restart), try again after this long rather than spin. */
const RETRY_MS = 2_000;

/**
 * One build's log, followed with long polls (`after` the last seq, `wait`) so lines appear as the
 * builder sends them; stops once the server says `done` and then calls `onDone` so the page can
 * show the final status at once instead of at its next poll.
 */
export function BuildLog({ id, onDone }: { id: string; onDone?(): void }) {
  const [lines, setLines] = useState<BuildLogLine[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<Error>();
  const box = useRef<HTMLDivElement>(null);
  const onDoneRef = useRef(onDone);
  onDoneRef.current = onDone;
  useEffect(() => {
    setLines([]);
    setLoaded(false);
    setDone(false);
    setError(undefined);
    let stopped = false;
    let after = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const page = await api<BuildLogPage>(`/builds/${id}/logs?after=${after}&wait=${WAIT_S}`);
        if (stopped) return;
        after = page.lines.at(-1)?.seq ?? after;
        if (page.lines.length) setLines((old) => [...old, ...page.lines].slice(-KEEP));
        setLoaded(true);
        setError(undefined);
        if (page.done) {
          setDone(true);
          onDoneRef.current?.();
          return;
        }
        void poll();
      } catch (err) {
        if (stopped) return;
        setError(err as Error);
        timer = setTimeout(() => void poll(), RETRY_MS);
      }
    };
    void poll();
    // A long poll still open when the reader picks another build is answered into nothing.
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id]);
  // Stick to the bottom unless the reader scrolled up.
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <>
      <ErrorBox error={error} context="Build log interrupted; retrying" />
      <div class="logs build-log" ref={box} aria-live="polite" data-build-log={id} data-done={String(done)}>
        {!loaded && !error && <p class="muted">Loading the build log…</p>}
        {loaded && !lines.length && <p class="muted">{done ? 'This build wrote no log lines.' : 'No log lines yet; they appear here as the builder runs.'}</p>}
        {lines.map((l) => (
          <div class={`line ${l.stream}`} key={l.seq}>
            <span class="ts">{l.at.slice(11, 19)}</span>
            <span class="text">{l.line}</span>
          </div>
        ))}
      </div>
    </>
  );
}
