import { useState } from 'preact/hooks';
import type { PasskeyView } from '../../../protocol/passkeys.js';
import { api } from '../api.js';
import { age } from '../format.js';
import { enrolErrorText, enrolPasskey } from '../passkeys.js';
import { Empty, ErrorBox, Loading, Outcome } from '../parts/states.js';
import { Table } from '../parts/table.js';
import { useAction } from '../parts/use-action.js';
import { usePoll } from '../poll.js';

/** /account: the signed-in person's passkeys (add, remove) and recovery codes (how many left, new ones). */
export function Account({ onCodes }: { onCodes(codes: string[]): void }) {
  const data = usePoll(() => api<{ passkeys: PasskeyView[]; recoveryCodesLeft: number }>('/passkeys'), 10_000, 'passkeys');
  const [name, setName] = useState('');
  const { error, notice, run: act } = useAction(() => data.refresh());
  const add = (e: Event) => {
    e.preventDefault();
    void act(
      async () => {
        const enrolled = await enrolPasskey(name.trim() ? { passkeyName: name.trim() } : {});
        setName('');
        if (enrolled.recoveryCodes) onCodes(enrolled.recoveryCodes);
        return `Passkey ${enrolled.passkey.name} added.`;
      },
      { describe: enrolErrorText },
    );
  };
  const remove = (p: PasskeyView) =>
    void act(
      async () => {
        await api(`/passkeys/${encodeURIComponent(p.id)}`, { method: 'DELETE' });
        return `Passkey ${p.name} removed.`;
      },
      { confirm: `Remove passkey ${p.name}? It can no longer sign in.` },
    );
  const renew = () =>
    void act(
      async () => {
        onCodes((await api<{ recoveryCodes: string[] }>('/recovery-codes', { method: 'POST', body: {} })).recoveryCodes);
        return 'New recovery codes made.';
      },
      { confirm: 'Make ten new recovery codes? The old ones stop working.' },
    );
  const list = data.data?.passkeys;
  return (
    <section>
      <h1>Account</h1>
      <ErrorBox error={data.error} context="Could not load your passkeys" />
      <Outcome error={error} notice={notice} />
      <h2>Passkeys</h2>
      {!list && !data.error && <Loading what="passkeys" />}
      {list && !list.length && <Empty>No passkey yet: add one to sign in without a token or recovery code.</Empty>}
      {list && list.length > 0 && (
        <Table head={['Name', 'Added', 'Last used', '']}>
          {list.map((p) => (
            <tr key={p.id} data-passkey={p.name}>
              <td>{p.name}</td>
              <td>{age(p.createdAt)}</td>
              <td>{p.lastUsedAt ? age(p.lastUsedAt) : <span class="muted">never</span>}</td>
              <td>
                <button type="button" class="small danger" onClick={() => remove(p)}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <form class="inline" onSubmit={add}>
        <input aria-label="passkey name" placeholder="name, e.g. laptop (optional)" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit">Add a passkey</button>
      </form>
      <h2>Recovery codes</h2>
      {data.data && (
        <p>
          <span class="codes-left">{data.data.recoveryCodesLeft}</span> unused recovery code{data.data.recoveryCodesLeft === 1 ? '' : 's'} left.{' '}
          <button type="button" class="small" onClick={renew}>
            Make new codes
          </button>
        </p>
      )}
    </section>
  );
}
