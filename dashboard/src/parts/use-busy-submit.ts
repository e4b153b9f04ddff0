import { useState } from 'preact/hooks';
import { errorText } from '../api.js';

/**
 * A sign-in or enrolment step: busy while it runs (the button says so and cannot be pressed twice),
 * its failure shown as an error.
 */
export function useBusySubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = async (action: () => Promise<void>, describe: (err: unknown) => string = errorText) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
