import { useState } from 'preact/hooks';
import type { ApiTokenView, CreatedApiToken } from '../../../protocol/operate.js';
import { api, errorText } from '../api.js';
import { age } from '../format.js';
import { Badge, Empty, ErrorBox, Loading } from '../parts/states.js';
import { usePoll } from '../poll.js';

/** The signed-in user's API tokens: create (the secret is shown once), list, revoke. */
export function Tokens() {
  const tokens = usePoll(() => api<{ tokens: ApiTokenView[] }>('/tokens'), 5000, 'tokens');
  const [name, setName] = useState('');
  const [project, setProject] = useState('');
  const [created, setCreated] = useState<CreatedApiToken>();
  const [error, setError] = useState<string>();
  const act = async (action: () => Promise<void>) => {
    setError(undefined);
    try {
      await action();
      tokens.refresh();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const body = project ? { name, project } : { name };
      setCreated(await api<CreatedApiToken>('/tokens', { method: 'POST', body }));
      setName('');
      setProject('');
    });
  };
  const revoke = (t: ApiTokenView) => {
    if (!confirm(`Revoke ${t.name}? Anything using it (and dashboard sessions signed in with it) stops working.`)) return;
    void act(async () => {
      await api(`/tokens/${t.id}`, { method: 'DELETE' });
    });
  };
  const list = tokens.data?.tokens;
  return (
    <section>
      <h1>API tokens</h1>
      <ErrorBox error={tokens.error} context="Could not load tokens" />
      {error && <p class="state error" role="alert">{error}</p>}
      {created && (
        <div class="state notice" role="status">
          <p>
            Token <b>{created.token.name}</b> created. Copy it now; it is not shown again:
          </p>
          <code class="secret">{created.secret}</code>
        </div>
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
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Scope</th>
                <th>Created</th>
                <th>Last used</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
