import { useState } from 'preact/hooks';
import { MAX_REPLICAS, type Deployment } from '../../../protocol/api.js';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { Outcome } from './states.js';
import { useAction } from './use-action.js';

interface Props {
  project: string;
  live: Deployment | null;
  onChanged(): void;
}

/** Scale the live release and delete the project (typing its name to confirm). */
export function Actions({ project, live, onChanged }: Props) {
  const [replicas, setReplicas] = useState('');
  const [confirmName, setConfirmName] = useState('');
  const { error, notice, run } = useAction(onChanged);
  const scale = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await api(`/projects/${project}/scale`, { method: 'POST', body: { replicas: Number(replicas) } });
      setReplicas('');
      return `Scaling to ${replicas} replica${replicas === '1' ? '' : 's'}.`;
    });
  };
  const remove = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await api(`/projects/${project}`, { method: 'DELETE' });
      navigate('/');
      return `Deleted ${project}.`;
    });
  };
  return (
    <>
      <Outcome error={error} notice={notice} />
      <form class="inline" onSubmit={scale}>
        <label for="replicas">Replicas</label>
        <input id="replicas" type="number" min={1} max={MAX_REPLICAS} placeholder={String(live?.replicas ?? 1)} value={replicas}
          onInput={(e) => setReplicas(e.currentTarget.value)} disabled={!live} />
        <button type="submit" disabled={!live || !replicas}>
          Scale
        </button>
        {!live && <span class="muted small">Nothing live to scale yet.</span>}
      </form>
      <form class="inline danger-zone" onSubmit={remove}>
        <label for="confirm-delete">
          Type <code>{project}</code> to delete the project, its releases and tasks:
        </label>
        <input id="confirm-delete" value={confirmName} onInput={(e) => setConfirmName(e.currentTarget.value)} autocomplete="off" />
        <button type="submit" class="danger" disabled={confirmName !== project}>
          Delete project
        </button>
      </form>
    </>
  );
}
