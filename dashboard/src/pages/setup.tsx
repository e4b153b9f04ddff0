import { useState } from 'preact/hooks';
import type { Enrolled } from '../../../protocol/passkeys.js';
import { EnrolForm } from '../parts/enrol-form.js';

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
  return (
    <main class="signin">
      <h1>Set up Zectre</h1>
      {!token ? (
        <p class="state error" role="alert">
          This page needs the whole setup link (…/setup#zs_…). Print one with <code>npm run setup</code> (or <code>npm start</code> locally).
        </p>
      ) : (
        <EnrolForm
          start={(name) => ({ setupToken: token, name })}
          onEnrolled={onEnrolled}
          nameId="admin-name"
          nameLabel="Admin name"
          initialName="admin"
          submitLabel="Create admin passkey"
          intro={<p>Create the first admin. Your passkey (this device, a phone or a security key) is how you sign in: there is no password.</p>}
        />
      )}
    </main>
  );
}
