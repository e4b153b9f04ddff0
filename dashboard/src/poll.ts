import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  refresh(): void;
}

/**
 * Loads now and then every `intervalMs` while the tab is visible, so work started elsewhere (a CLI
 * deploy) shows up without a reload. Keeps the last good data when a poll fails.
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, key: string): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError | Error>();
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => setData(undefined), [key]);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (!document.hidden) {
        try {
          const value = await loadRef.current();
          if (stopped) return;
          setData(value);
          setError(undefined);
        } catch (err) {
          if (!stopped) setError(err as Error);
        }
      }
      if (!stopped) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, tick, intervalMs]);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, refresh };
}
