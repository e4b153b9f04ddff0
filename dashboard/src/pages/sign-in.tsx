import { useState } from 'preact/hooks';
import type { Session } from '../../../protocol/dashboard.js';
import { api, errorText } from '../api.js';
import { passkeyError, signInWithPasskey } from '../passkeys.js';
import { followLink } from '../router.js';

/**
 * A passkey first; an API token as the fallback (sent once and exchanged for an HttpOnly cookie, never
 * stored by the page); a recovery code when the passkey is lost.
 */
export function SignIn({ onSignedIn, purpose }: { onSignedIn(session: Session): void; purpose?: string }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const passkey = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signInWithPasskey());
    } catch (err) {
      setError(passkeyError(err));
    } finally {
      setBusy(false);
    }
  };
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
      {error && (
        <p class="state error" role="alert">
          {error}
        </p>
      )}
    </main>
  );
}
