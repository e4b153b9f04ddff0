import { useState } from 'preact/hooks';
import type { Session } from '../../../protocol/dashboard.js';
import { api, errorText } from '../api.js';

/** The token is sent once and exchanged for an HttpOnly cookie; it is never stored by the page. */
export function SignIn({ onSignedIn }: { onSignedIn(session: Session): void }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await api<Session>('/sessions', { method: 'POST', body: { token: token.trim() } });
      setToken('');
      onSignedIn(session);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Zectre</h1>
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
        {error && (
          <p class="state error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
