import { useState } from 'preact/hooks';
import { errorText } from '../api.js';

export interface RunOptions {
  /** Asked first with the browser's confirm(); a "Cancel" runs nothing. */
  confirm?: string;
  /** Turns a failure into the words shown; the API's message by default. */
  describe?(err: unknown): string;
}

/**
 * One change made from a page (remove a row, save a form): clears the last outcome, runs the change,
 * shows what it returned as a notice or its failure as an error, and lets the page reload its data.
 */
export function useAction(after?: () => void) {
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const run = async (action: () => Promise<string | void>, opts: RunOptions = {}) => {
    if (opts.confirm !== undefined && !confirm(opts.confirm)) return;
    setError(undefined);
    setNotice(undefined);
    try {
      const said = await action();
      if (said) setNotice(said);
      after?.();
    } catch (err) {
      setError((opts.describe ?? errorText)(err));
    }
  };
  return { error, notice, run, setError };
}
