import { useState } from 'preact/hooks';
import type { Deployment, Project as ProjectView } from '../../../protocol/api.js';
import { ApiError, api, errorText } from '../api.js';
import { Actions } from '../parts/actions.js';
import { Activity } from '../parts/activity.js';
import { Builds } from '../parts/builds.js';
import { EnvVars } from '../parts/env-vars.js';
import { LogTail } from '../parts/log-tail.js';
import { Releases } from '../parts/releases.js';
import { Badge, ErrorBox, Loading, Outcome } from '../parts/states.js';
import { Tasks } from '../parts/tasks.js';
import { usePoll } from '../poll.js';
import { followLink } from '../router.js';

type ProjectDetail = ProjectView & { liveDeployment: Deployment | null };

export function Project({ name }: { name: string }) {
  const project = usePoll(() => api<ProjectDetail>(`/projects/${name}`), 1500, name);
  const releases = usePoll(() => api<{ deployments: Deployment[] }>(`/projects/${name}/deployments`), 1500, name);
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const refresh = () => {
    project.refresh();
    releases.refresh();
  };
  const rollback = async (d: Deployment) => {
    if (!confirm(`Roll ${name} back to release ${d.id}?`)) return;
    setError(undefined);
    try {
      const started = await api<Deployment>(`/projects/${name}/rollback`, { method: 'POST', body: { deployment: d.id } });
      setNotice(`Rolling back to ${d.id}${started?.id && started.id !== d.id ? ` as release ${started.id}` : ''}.`);
      refresh();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const gone = project.error instanceof ApiError && project.error.status === 404;
  if (!project.data || gone) {
    return project.error ? <ErrorBox error={project.error} context={`Could not load ${name}`} /> : <Loading what={name} />;
  }
  const p = project.data;
  const live = p.liveDeployment;
  const deployments = releases.data?.deployments;
  const rolling = deployments?.find((d) => d.status === 'pending' || d.status === 'deploying');
  return (
    <section class="project">
      <h1>
        {p.name} <Badge value={live ? 'live' : 'not deployed'} />
        <a class="small" href={`/projects/${p.name}/members`} onClick={followLink}>
          Members
        </a>
      </h1>
      <ErrorBox error={project.error ?? releases.error} context="Refresh failed; showing the last data" />
      <dl class="facts">
        <dt>Live URL</dt>
        <dd>
          <a href={p.urls.app} target="_blank" rel="noreferrer">
            {p.urls.app}
          </a>
        </dd>
        <dt>Live release</dt>
        <dd>{live ? <a href={live.urls.preview} target="_blank" rel="noreferrer">{live.id}</a> : <span class="muted">none yet</span>}</dd>
        {rolling && (
          <>
            <dt>Rolling out</dt>
            <dd>
              <a href={rolling.urls.preview} target="_blank" rel="noreferrer">
                {rolling.urls.preview}
              </a>{' '}
              <Badge value={rolling.status} />
            </dd>
          </>
        )}
      </dl>
      <Outcome error={error} notice={notice} />

      <h2>Releases</h2>
      {deployments ? <Releases deployments={deployments} liveId={p.liveDeploymentId} onRollback={rollback} /> : <Loading what="releases" />}

      <h2>Builds</h2>
      <Builds project={name} />

      <h2>Tasks</h2>
      {deployments ? <Tasks deployments={deployments} /> : <Loading what="tasks" />}

      <h2>Logs</h2>
      <LogTail project={name} />

      <h2>Activity</h2>
      <Activity project={name} />

      <h2>Environment</h2>
      <EnvVars project={name} onChanged={refresh} />

      <h2>Actions</h2>
      <Actions project={name} live={live} onChanged={refresh} />
    </section>
  );
}
