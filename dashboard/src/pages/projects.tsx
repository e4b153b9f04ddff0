import type { Project } from '../../../protocol/api.js';
import { api } from '../api.js';
import { age } from '../format.js';
import { Badge, Empty, ErrorBox, Loading } from '../parts/states.js';
import { usePoll } from '../poll.js';
import { followLink } from '../router.js';

export function Projects() {
  const { data, error } = usePoll(() => api<{ projects: Project[] }>('/projects'), 3000, 'projects');
  return (
    <section>
      <h1>Projects</h1>
      <ErrorBox error={error} context="Could not load projects" />
      {!data && !error && <Loading what="projects" />}
      {data && !data.projects.length && (
        <Empty>
          <p>No projects yet.</p>
          <p class="muted">
            Create one and deploy from your terminal: <code>zectre projects create my-app</code> then{' '}
            <code>zectre deploy . --project my-app</code>.
          </p>
        </Empty>
      )}
      <ul class="cards">
        {data?.projects.map((p) => (
          <li class="card" key={p.id}>
            <a href={`/projects/${p.name}`} onClick={followLink} class="title">
              {p.name}
            </a>
            <Badge value={p.liveDeploymentId ? 'live' : 'not deployed'} />
            <a href={p.urls.app} class="url" target="_blank" rel="noreferrer">
              {p.urls.app}
            </a>
            <span class="muted small">created {age(p.createdAt)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
