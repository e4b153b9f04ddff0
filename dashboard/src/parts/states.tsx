import type { ComponentChildren } from 'preact';

export const Loading = ({ what }: { what: string }) => (
  <p class="state loading" role="status">
    Loading {what}…
  </p>
);

export const Empty = ({ children }: { children: ComponentChildren }) => <div class="state empty">{children}</div>;

export const ErrorBox = ({ error, context }: { error: unknown; context?: string }) =>
  error ? (
    <p class="state error" role="alert">
      {context ? `${context}: ` : ''}
      {error instanceof Error ? error.message : String(error)}
    </p>
  ) : null;

const GOOD = new Set(['live', 'healthy', 'ready', 'running', 'active', 'succeeded']);
const BAD = new Set(['failed', 'unhealthy', 'exited', 'lost', 'down', 'revoked', 'timed_out']);

/** A coloured word: green when all is well, red when not, amber while in progress, grey when retired. */
export function Badge({ value }: { value: string }) {
  const tone = GOOD.has(value) ? 'good' : BAD.has(value) ? 'bad' : value === 'superseded' || value === 'stopped' || value === 'canceled' ? 'idle' : 'busy';
  return <span class={`badge ${tone}`}>{value}</span>;
}

/** What the last change on a page came to: its failure (an alert) or what it did (a status). */
export const Outcome = ({ error, notice }: { error?: string; notice?: string }) => (
  <>
    {error && (
      <p class="state error" role="alert">
        {error}
      </p>
    )}
    {notice && (
      <p class="state notice" role="status">
        {notice}
      </p>
    )}
  </>
);
