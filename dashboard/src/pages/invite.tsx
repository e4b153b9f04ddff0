import { useEffect, useState } from 'preact/hooks';
import type { AcceptedInvite, InvitePreview } from '../../../protocol/people.js';
import type { Enrolled } from '../../../protocol/passkeys.js';
import { api, errorText } from '../api.js';
import { followLink } from '../router.js';
import { EnrolForm } from '../parts/enrol-form.js';
import { ErrorBox, Loading, Outcome } from '../parts/states.js';
import { useAction } from '../parts/use-action.js';

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
  return (
    <main class="signin">
      <h1>Join Zectre</h1>
      <ErrorBox error={loadError} />
      {!invite && !loadError && <Loading what="the invite" />}
      {invite && (
        <EnrolForm
          start={(name) => ({ inviteToken: token, name })}
          onEnrolled={onEnrolled}
          nameId="invite-name"
          nameLabel="Your name"
          placeholder="e.g. ada"
          submitLabel="Join with a passkey"
          intro={<Offer invite={invite} />}
        >
          <p class="muted small">
            Already have an account here?{' '}
            <button type="button" class="link" onClick={onSignIn}>
              Sign in to accept
            </button>
          </p>
        </EnrolForm>
      )}
    </main>
  );
}

/** /invite/<token>, signed in: accept with the current account. */
export function InviteAccept({ token }: { token: string }) {
  const { invite, error: loadError } = usePreview(token);
  const [accepted, setAccepted] = useState<AcceptedInvite>();
  const { error, run } = useAction();
  const accept = () =>
    run(async () => {
      setAccepted(await api<AcceptedInvite>(`/invites/${encodeURIComponent(token)}/accept`, { method: 'POST', body: {} }));
    });
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
      <Outcome error={error} />
    </section>
  );
}
