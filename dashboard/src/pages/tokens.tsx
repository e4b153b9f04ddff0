import { useState } from 'preact/hooks';
import type { ApiTokenView, CreatedApiToken } from '../../../protocol/operate.js';
import { api } from '../api.js';
import { age } from '../format.js';
import { ShownOnce } from '../parts/shown-once.js';
import { Badge, Empty, ErrorBox, Loading, Outcome } from '../parts/states.js';
import { Table } from '../parts/table.js';
import { useAction } from '../parts/use-action.js';
import { usePoll } from '../poll.js';

/** The signed-in user's API tokens: create (the secret is shown once), list, revoke. */
export function Tokens() {
  const tokens = usePoll(() => api<{ tokens: ApiTokenView[] }>('/tokens'), 5000, 'tokens');
  const [name, setName] = useState('');
  const [project, setProject] = useState('');
  const [created, setCreated] = useState<CreatedApiToken>();
  const { error, run: act } = useAction(() => tokens.refresh());
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const body = project ? { name, project } : { name };
      setCreated(await api<CreatedApiToken>('/tokens', { method: 'POST', body }));
      setName('');
      setProject('');
    });
  };
  const revoke = (t: ApiTokenView) =>
    void act(
      async () => {
        await api(`/tokens/${t.id}`, { method: 'DELETE' });
      },
      { confirm: `Revoke ${t.name}? Anything using it (and dashboard sessions signed in with it) stops working.` },
    );
  const list = tokens.data?.tokens;
  return (
    <section>
      <h1>API tokens</h1>
      <ErrorBox error={tokens.error} context="Could not load tokens" />
      <Outcome error={error} />
      {created && (
        <ShownOnce secret={created.secret}>
          Token <b>{created.token.name}</b> created. Copy it now; it is not shown again:
        </ShownOnce>
      )}
      <form class="inline" onSubmit={create}>
        <input aria-label="token name" placeholder="name, e.g. ci" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <input aria-label="limit to project" placeholder="project (optional)" value={project} onInput={(e) => setProject(e.currentTarget.value)} />
        <button type="submit" disabled={!name.trim()}>
          Create token
        </button>
      </form>
      {!list && !tokens.error && <Loading what="tokens" />}
      {list && !list.length && <Empty>No tokens yet.</Empty>}
      {list && list.length > 0 && (
        <Table head={['Name', 'Scope', 'Created', 'Last used', 'Status', '']}>
          {list.map((t) => (
            <tr key={t.id} data-token={t.name}>
              <td>{t.name}</td>
              <td>{t.project ?? <span class="muted">all projects</span>}</td>
              <td>{age(t.createdAt)}</td>
              <td>{age(t.lastUsedAt)}</td>
              <td>
                <Badge value={t.revokedAt ? 'revoked' : 'active'} />
              </td>
              <td>
                {!t.revokedAt && (
                  <button type="button" class="small danger" onClick={() => revoke(t)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
