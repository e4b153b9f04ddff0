import { useState } from 'preact/hooks';
import type { Enrolled } from '../../../protocol/passkeys.js';
import { errorText } from '../api.js';
import { enrolPasskey, passkeyError } from '../passkeys.js';

/**
 * /setup#<token>: the first admin enrols a passkey. The token is read from the fragment (it never
 * reaches a server or a log) and wiped from the address bar.
 */
export function Setup({ onEnrolled }: { onEnrolled(e: Enrolled): void }) {
  const [token] = useState(() => {
    const t = decodeURIComponent(location.hash.slice(1));
    if (t) history.replaceState(null, '', '/setup');
    return t;
  });
  const [name, setName] = useState('admin');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onEnrolled(await enrolPasskey({ setupToken: token, name: name.trim() }));
    } catch (err) {
      setError(err instanceof Error && err.name.endsWith('Error') && err.name !== 'Error' ? passkeyError(err) : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Set up Zectre</h1>
      {!token ? (
        <p class="state error" role="alert">
          This page needs the whole setup link (…/setup#zs_…). Print one with <code>npm run setup</code> (or <code>npm start</code> locally).
        </p>
      ) : (
        <form onSubmit={submit} class="card">
          <p>Create the first admin. Your passkey (this device, a phone or a security key) is how you sign in: there is no password.</p>
          <label for="admin-name">Admin name</label>
          <input id="admin-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required autocomplete="username" />
          <button type="submit" disabled={busy || !name.trim()}>
            {busy ? 'Waiting for the passkey…' : 'Create admin passkey'}
          </button>
        </form>
      )}
      {error && (
        <p class="state error" role="alert">
          {error}
        </p>
      )}
    </main>
  );
}
