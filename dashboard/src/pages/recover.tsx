import { useState } from 'preact/hooks';
import type { Session } from '../../../protocol/dashboard.js';
import { api } from '../api.js';
import { Outcome } from '../parts/states.js';
import { useBusySubmit } from '../parts/use-busy-submit.js';
import { followLink } from '../router.js';

/** /recover: a name and one recovery code sign in once; the code is used up. */
export function Recover({ onSignedIn }: { onSignedIn(s: Session & { recoveryCodesLeft: number }): void }) {
  const [name, setName] = useState('');
  const [code, setCode] = useState('');
  const { busy, error, run } = useBusySubmit();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const s = await api<Session & { recoveryCodesLeft: number }>('/sessions/recover', { method: 'POST', body: { name: name.trim(), code: code.trim() } });
      setCode('');
      onSignedIn(s);
    });
  };
  return (
    <main class="signin">
      <h1>Sign in with a recovery code</h1>
      <form onSubmit={submit} class="card">
        <label for="recover-name">Your name</label>
        <input id="recover-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required autocomplete="username" />
        <label for="recover-code">Recovery code</label>
        <input id="recover-code" value={code} onInput={(e) => setCode(e.currentTarget.value)} required autocomplete="off" placeholder="abcd-efgh-ijkm-npqr" />
        <p class="muted small">Each code works once. Afterwards, add a new passkey on the Account page.</p>
        <button type="submit" disabled={busy || !name.trim() || !code.trim()}>
          {busy ? 'Signing in…' : 'Sign in with recovery code'}
        </button>
      </form>
      <Outcome error={error} />
      <p class="small">
        <a href="/" onClick={followLink}>
          Back to sign-in
        </a>
      </p>
    </main>
  );
}
