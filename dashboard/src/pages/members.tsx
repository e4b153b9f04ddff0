import { useState } from 'preact/hooks';
import type { CreatedInvite, InviteView, MemberView, ProjectRole } from '../../../protocol/people.js';
import { api } from '../api.js';
import { followLink } from '../router.js';
import { ShownOnce } from '../parts/shown-once.js';
import { Badge, Empty, ErrorBox, Loading, Outcome } from '../parts/states.js';
import { Table } from '../parts/table.js';
import { useAction } from '../parts/use-action.js';
import { usePoll } from '../poll.js';

const ROLES: ProjectRole[] = ['viewer', 'developer', 'owner'];

/** /projects/<name>/members: who can do what on the project; owners invite, change roles and remove. */
export function Members({ project, me }: { project: string; me: { id: string } }) {
  const base = `/projects/${encodeURIComponent(project)}`;
  const members = usePoll(() => api<{ members: MemberView[] }>(`${base}/members`), 5000, 'members');
  // Only owners may list invites: anyone else gets 403 and sees no invite section.
  const invites = usePoll(() => api<{ invites: InviteView[] }>(`${base}/invites`), 5000, 'invites');
  const [role, setRole] = useState<ProjectRole>('developer');
  const [created, setCreated] = useState<CreatedInvite>();
  const { error, notice, run: act } = useAction(() => {
    members.refresh();
    invites.refresh();
  });
  const owner = !!invites.data;
  const invite = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      setCreated(await api<CreatedInvite>(`${base}/invites`, { method: 'POST', body: { role } }));
    });
  };
  const change = (m: MemberView, to: ProjectRole) =>
    act(async () => {
      await api(`${base}/members/${encodeURIComponent(m.userId)}`, { method: 'PUT', body: { role: to } });
      return `${m.name} is now ${to}.`;
    });
  const remove = (m: MemberView) =>
    void act(
      async () => {
        await api(`${base}/members/${encodeURIComponent(m.userId)}`, { method: 'DELETE' });
        return `${m.name} was removed.`;
      },
      { confirm: `Remove ${m.name} from ${project}? They lose every access to it.` },
    );
  const revoke = (i: InviteView) =>
    act(async () => {
      await api(`${base}/invites/${i.id}`, { method: 'DELETE' });
      return 'Invite revoked: the link no longer works.';
    });
  const list = members.data?.members;
  return (
    <section>
      <h1>
        <a href={base} onClick={followLink}>
          {project}
        </a>{' '}
        members
      </h1>
      <ErrorBox error={members.error} context="Could not load members" />
      <Outcome error={error} notice={notice} />
      {!list && !members.error && <Loading what="members" />}
      {list && !list.length && <Empty>No members.</Empty>}
      {list && list.length > 0 && (
        <Table head={['Name', 'Role', '']}>
          {list.map((m) => (
            <tr key={m.userId} data-member={m.name}>
              <td>
                {m.name} {m.userId === me.id && <span class="muted">(you)</span>} {m.disabled && <Badge value="disabled" />}
              </td>
              <td>
                {owner ? (
                  <select aria-label={`role of ${m.name}`} value={m.role} onChange={(e) => void change(m, e.currentTarget.value as ProjectRole)}>
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td>
                {owner && (
                  <button type="button" class="small danger" onClick={() => remove(m)}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {owner && (
        <>
          <h2>Invite someone</h2>
          <form class="inline" onSubmit={invite}>
            <select aria-label="invite role" value={role} onChange={(e) => setRole(e.currentTarget.value as ProjectRole)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
            <button type="submit">Create invite link</button>
          </form>
          {created && (
            <ShownOnce secret={`${location.origin}${created.url}`} secretClass="invite-link">
              Invite link for a <b>{created.role}</b>, valid once until {new Date(created.expiresAt).toLocaleString()}. Send it now; it is not
              shown again:
            </ShownOnce>
          )}
          <InviteList invites={invites.data!.invites} onRevoke={(i) => void revoke(i)} />
        </>
      )}
    </section>
  );
}

function InviteList({ invites, onRevoke }: { invites: InviteView[]; onRevoke(i: InviteView): void }) {
  if (!invites.length) return null;
  return (
    <Table head={['Role', 'By', 'State', 'Accepted by', '']}>
      {invites.map((i) => (
        <tr key={i.id} data-invite={i.id}>
          <td>{i.role}</td>
          <td>{i.createdBy ?? '—'}</td>
          <td>
            <Badge value={i.state} />
          </td>
          <td>{i.acceptedBy ?? ''}</td>
          <td>
            {i.state === 'pending' && (
              <button type="button" class="small danger" onClick={() => onRevoke(i)}>
                Revoke
              </button>
            )}
          </td>
        </tr>
      ))}
    </Table>
  );
}
