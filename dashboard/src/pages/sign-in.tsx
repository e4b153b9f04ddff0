import { useState } from 'preact/hooks';
import type { Session } from '../../../protocol/dashboard.js';
import { api } from '../api.js';
import { Outcome } from '../parts/states.js';
import { useBusySubmit } from '../parts/use-busy-submit.js';
import { passkeyError, signInWithPasskey } from '../passkeys.js';
import { followLink } from '../router.js';

/**
 * A passkey first; an API token as the fallback (sent once and exchanged for an HttpOnly cookie, never
 * stored by the page); a recovery code when the passkey is lost.
 */
export function SignIn({ onSignedIn, purpose }: { onSignedIn(session: Session): void; purpose?: string }) {
  const [token, setToken] = useState('');
  const { busy, error, run } = useBusySubmit();
  const passkey = () => run(async () => onSignedIn(await signInWithPasskey()), passkeyError);
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const session = await api<Session>('/sessions', { method: 'POST', body: { token: token.trim() } });
      setToken('');
      onSignedIn(session);
    });
  };
  return (
    <main class="signin">
      <h1>Zectre</h1>
      {purpose && <p class="muted">{purpose}</p>}
      <div class="card stack">
        <button type="button" onClick={passkey} disabled={busy}>
          Sign in with a passkey
        </button>
        <p class="muted small">
          Lost your passkey?{' '}
          <a href="/recover" onClick={followLink}>
            Use a recovery code
          </a>
          .
        </p>
      </div>
      <p class="muted small or">or with an API token</p>
      <form onSubmit={submit} class="card">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          placeholder="zt_…"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          required
        />
        <p class="muted small">
          Create one with <code>zectre tokens create</code>. The dashboard keeps only a session cookie, never the token.
        </p>
        <button type="submit" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <Outcome error={error} />
    </main>
  );
}
