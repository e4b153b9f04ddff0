import type { EventView } from '../../../protocol/operate.js';
import { api } from '../api.js';
import { age } from '../format.js';
import { usePoll } from '../poll.js';
import { Empty, ErrorBox, Loading } from './states.js';

const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/** One readable sentence per audit event; unknown kinds fall back to their name. */
function describe(e: EventView): string {
  const d = e.data;
  const keys = Array.isArray(d.keys) ? d.keys.join(', ') : '';
  switch (e.kind) {
    case 'deployment.created':
      return `started release ${str(d.deploymentId)}${d.reason ? ` (${str(d.reason)})` : ''}`;
    case 'deployment.live':
      return `release ${str(d.deploymentId)} went live${d.reason ? ` (${str(d.reason)})` : ''}`;
    case 'deployment.failed':
      return `release ${str(d.deploymentId)} failed: ${str(d.reason)}`;
    case 'deployment.scaled':
      return `scaled ${str(d.deploymentId)} from ${str(d.from)} to ${str(d.to)} replicas`;
    case 'env.set':
      return `set ${keys}`;
    case 'env.unset':
      return `removed ${keys}`;
    case 'project.created':
      return 'created the project';
    default:
      return e.kind;
  }
}

/** Who did what to the project, newest first (the audit log the API keeps). */
export function Activity({ project }: { project: string }) {
  const { data, error } = usePoll(() => api<{ events: EventView[] }>(`/projects/${project}/events?limit=15`), 3000, project);
  return (
    <>
      <ErrorBox error={error} context="Could not load activity" />
      {!data && !error && <Loading what="activity" />}
      {data && !data.events.length && <Empty>Nothing has happened here yet.</Empty>}
      {data && data.events.length > 0 && (
        <ul class="activity">
          {data.events.map((e) => (
            <li key={e.id}>
              <span class="who">{e.actor ?? 'Zectre'}</span> {describe(e)}{' '}
              <span class="muted small" title={e.at}>
                {age(e.at)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
