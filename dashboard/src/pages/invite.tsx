import { useEffect, useState } from 'preact/hooks';
import type { AcceptedInvite, InvitePreview } from '../../../protocol/people.js';
import type { Enrolled } from '../../../protocol/passkeys.js';
import { api, errorText } from '../api.js';
import { enrolPasskey, passkeyError } from '../passkeys.js';
import { followLink } from '../router.js';
import { ErrorBox, Loading } from '../parts/states.js';

function Offer({ invite }: { invite: InvitePreview }) {
  return (
    <p>
      {invite.invitedBy ? <b>{invite.invitedBy}</b> : 'Someone'} invites you to project <b class="invite-project">{invite.project}</b> as{' '}
      <b class="invite-role">{invite.role}</b>. The link works once, until {new Date(invite.expiresAt).toLocaleString()}.
    </p>
  );
}

function usePreview(token: string) {
  const [invite, setInvite] = useState<InvitePreview>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<InvitePreview>(`/invites/${encodeURIComponent(token)}`).then(setInvite, (err) => setError(errorText(err)));
  }, [token]);
  return { invite, error };
}

/** /invite/<token>, signed out: a new person picks a name and enrols a passkey; or signs in first. */
export function InviteNewPerson({ token, onEnrolled, onSignIn }: { token: string; onEnrolled(e: Enrolled): void; onSignIn(): void }) {
  const { invite, error: loadError } = usePreview(token);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onEnrolled(await enrolPasskey({ inviteToken: token, name: name.trim() }));
    } catch (err) {
      setError(err instanceof Error && err.name !== 'Error' && err.name.endsWith('Error') ? passkeyError(err) : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Join Zectre</h1>
      <ErrorBox error={loadError} />
      {!invite && !loadError && <Loading what="the invite" />}
      {invite && (
        <form onSubmit={submit} class="card">
          <Offer invite={invite} />
          <label for="invite-name">Your name</label>
          <input id="invite-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required autocomplete="username" placeholder="e.g. ada" />
          <button type="submit" disabled={busy || !name.trim()}>
            {busy ? 'Waiting for the passkey…' : 'Join with a passkey'}
          </button>
          <p class="muted small">
            Already have an account here?{' '}
            <button type="button" class="link" onClick={onSignIn}>
              Sign in to accept
            </button>
          </p>
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

/** /invite/<token>, signed in: accept with the current account. */
export function InviteAccept({ token }: { token: string }) {
  const { invite, error: loadError } = usePreview(token);
  const [accepted, setAccepted] = useState<AcceptedInvite>();
  const [error, setError] = useState<string>();
  const accept = async () => {
    setError(undefined);
    try {
      setAccepted(await api<AcceptedInvite>(`/invites/${encodeURIComponent(token)}/accept`, { method: 'POST', body: {} }));
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (accepted) {
    return (
      <section>
        <h1>Invite accepted</h1>
        <p class="state notice" role="status">
          {accepted.message}.{' '}
        </p>
        <a href={`/projects/${accepted.project}`} onClick={followLink}>
          Open {accepted.project}
        </a>
      </section>
    );
  }
  return (
    <section>
      <h1>Invite</h1>
      <ErrorBox error={loadError} />
      {!invite && !loadError && <Loading what="the invite" />}
      {invite && (
        <div class="card">
          <Offer invite={invite} />
          <button type="button" onClick={accept}>
            Accept invite
          </button>
        </div>
      )}
      {error && (
        <p class="state error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
