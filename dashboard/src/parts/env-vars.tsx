import { useState } from 'preact/hooks';
import type { EnvVar } from '../../../protocol/api.js';
import type { EnvChangeAnswer } from '../../../protocol/operate.js';
import { api, errorText } from '../api.js';
import { age } from '../format.js';
import { usePoll } from '../poll.js';
import { Empty, ErrorBox, Loading, Outcome } from './states.js';
import { useAction } from './use-action.js';

interface Props {
  project: string;
  /** Called after a change, so the page can show the release it started. */
  onChanged(): void;
}

/** Keys are listed; values stay hidden until the owner reveals them (a separate, owner-only request). */
export function EnvVars({ project, onChanged }: Props) {
  const [revealed, setRevealed] = useState<Record<string, string>>();
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const list = usePoll(() => api<{ vars: EnvVar[] }>(`/projects/${project}/env`), 5000, project);

  const { error, notice, run, setError } = useAction(() => {
    list.refresh();
    onChanged();
  });
  const released = (answer: Partial<EnvChangeAnswer>) =>
    answer.release ? ` Release ${answer.release.id} is rolling out with it.` : ' It applies to the next deployment.';
  const save = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const answer = await api<Partial<EnvChangeAnswer>>(`/projects/${project}/env`, { method: 'PUT', body: { vars: { [key]: value } } });
      setRevealed(undefined);
      const saved = key;
      setKey('');
      setValue('');
      return `Saved ${saved}.${released(answer)}`;
    });
  };
  const remove = (k: string) =>
    void run(
      async () => {
        const answer = await api<Partial<EnvChangeAnswer>>(`/projects/${project}/env/${encodeURIComponent(k)}`, { method: 'DELETE' });
        return `Removed ${k}.${released(answer)}`;
      },
      { confirm: `Remove ${k} from ${project}?` },
    );
  const toggleReveal = async () => {
    if (revealed) return setRevealed(undefined);
    try {
      const { vars } = await api<{ vars: EnvVar[] }>(`/projects/${project}/env?reveal=true`);
      setRevealed(Object.fromEntries(vars.map((v) => [v.key, v.value ?? ''])));
    } catch (err) {
      setError(errorText(err));
    }
  };

  const vars = list.data?.vars;
  return (
    <>
      <ErrorBox error={list.error} context="Could not load env vars" />
      <Outcome error={error} notice={notice} />
      {!vars && !list.error && <Loading what="env vars" />}
      {vars && !vars.length && <Empty>No env vars. Add one below; each change starts a new release.</Empty>}
      {vars && vars.length > 0 && (
        <>
          <button type="button" class="small" onClick={toggleReveal}>
            {revealed ? 'Hide values' : 'Reveal values'}
          </button>
          <dl class="env">
            {vars.map((v) => (
              <div key={v.key}>
                <dt>
                  <code>{v.key}</code>
                </dt>
                <dd>
                  <code class="value">{revealed ? revealed[v.key] ?? '' : '••••••••'}</code>
                  <span class="muted small">{age(v.updatedAt)}</span>
                  <button type="button" class="small danger" onClick={() => remove(v.key)} aria-label={`remove ${v.key}`}>
                    Remove
                  </button>
                </dd>
              </div>
            ))}
          </dl>
        </>
      )}
      <form class="inline" onSubmit={save}>
        <input aria-label="name" placeholder="NAME" value={key} onInput={(e) => setKey(e.currentTarget.value)} required pattern="[A-Za-z_][A-Za-z0-9_]*" />
        <input aria-label="value" placeholder="value" value={value} onInput={(e) => setValue(e.currentTarget.value)} type="password" autocomplete="off" />
        <button type="submit" disabled={!key}>
          Set
        </button>
      </form>
    </>
  );
}
