import { useEffect, useState } from 'preact/hooks';
import type { Session } from '../../../protocol/dashboard.js';
import type { Build } from '../../../protocol/builds.js';
import type { MemberView } from '../../../protocol/people.js';
import { api } from '../api.js';
import { age, shortDigest } from '../format.js';
import { usePoll } from '../poll.js';
import { BuildLog } from './build-log.js';
import { Badge, Empty, ErrorBox, Loading, Outcome } from './states.js';
import { Table } from './table.js';
import { useAction } from './use-action.js';

const ACTIVE = new Set<Build['status']>(['queued', 'running']);

/**
 * The project's recent builds (what `zectre deploy` started on a builder) and one build's log,
 * live while it runs. The newest build is shown until the reader picks another, so a deploy
 * started from a terminal can be watched here without a click.
 */
export function Builds({ project }: { project: string }) {
  const list = usePoll(() => api<{ builds: Build[] }>(`/projects/${project}/builds`), 2000, project);
  const [picked, setPicked] = useState<string>();
  const canCancel = useCanCancel(project);
  const { error, notice, run } = useAction(list.refresh);
  const builds = list.data?.builds;
  if (!builds) return list.error ? <ErrorBox error={list.error} context="Could not load builds" /> : <Loading what="builds" />;
  if (!builds.length) {
    return (
      <Empty>
        <p>No builds yet.</p>
        <p class="muted">
          <code>zectre deploy</code> builds on a builder node when your app has a lockfile and no <code>node_modules</code> (or with{' '}
          <code>--build</code>); its log streams here.
        </p>
      </Empty>
    );
  }
  const selected = builds.find((b) => b.id === picked) ?? builds[0]!;
  const cancel = (b: Build) =>
    void run(
      async () => {
        await api(`/builds/${b.id}/cancel`, { method: 'POST', body: {} });
        return `Canceling build ${b.id}.`;
      },
      { confirm: `Cancel build ${b.id}?` },
    );
  return (
    <>
      <ErrorBox error={list.error} context="Refresh failed; showing the last data" />
      <Outcome error={error} notice={notice} />
      <Table class="builds" head={['Build', 'Status', 'Node', 'Cache', 'Source', 'Created', 'Release']}>
        {builds.map((b) => (
          <tr key={b.id} data-build={b.id} data-status={b.status} class={b.id === selected.id ? 'selected' : undefined}>
            <td>
              <button type="button" class="link" onClick={() => setPicked(b.id)} aria-pressed={b.id === selected.id} title="show this build's log">
                {b.id}
              </button>
            </td>
            <td>
              <Badge value={b.status} />
              {b.step && ACTIVE.has(b.status) && <span class="muted small"> {b.step}</span>}
            </td>
            <td>{b.node ?? '—'}</td>
            <td>{b.cache ?? '—'}</td>
            <td>
              <code title={b.sourceDigest}>{shortDigest(b.sourceDigest)}</code>
            </td>
            <td title={b.createdAt}>{age(b.createdAt)}</td>
            <td>{b.deploymentId ? <code>{b.deploymentId}</code> : '—'}</td>
          </tr>
        ))}
      </Table>
      <div class="build-detail" data-build-detail={selected.id} data-status={selected.status}>
        <h3>
          Build <code>{selected.id}</code> <Badge value={selected.status} />
          {selected.step && ACTIVE.has(selected.status) && <span class="muted small"> step: {selected.step}</span>}
          {canCancel && ACTIVE.has(selected.status) && (
            <button type="button" class="small danger" onClick={() => cancel(selected)}>
              Cancel build
            </button>
          )}
        </h3>
        {selected.plan && (
          <p class="muted small">
            {selected.plan.packageManager !== 'none' && `${selected.plan.packageManager}, `}Node.js {selected.plan.nodeVersion}
            {selected.plan.install && <> · install <code>{selected.plan.install}</code></>}
            {selected.plan.build && <> · build <code>{selected.plan.build}</code></>} · start <code>{selected.plan.start}</code>
          </p>
        )}
        {selected.error && (
          <pre class="state error build-error" role="alert">
            {selected.error}
          </pre>
        )}
        <BuildLog id={selected.id} onDone={list.refresh} />
      </div>
    </>
  );
}

/**
 * Cancelling needs developer rights. The membership list says whether the signed-in person is only
 * a viewer; anyone else (a developer, an owner, an admin who is no member) sees the button, and
 * the API stays the judge: a refusal shows as the action's error.
 */
function useCanCancel(project: string): boolean {
  const [viewerOnly, setViewerOnly] = useState(false);
  useEffect(() => {
    let stopped = false;
    setViewerOnly(false);
    Promise.all([api<{ user: Session['user'] }>('/whoami'), api<{ members: MemberView[] }>(`/projects/${project}/members`)]).then(
      ([{ user }, { members }]) => {
        if (!stopped) setViewerOnly(!user.isAdmin && members.find((m) => m.userId === user.id)?.role === 'viewer');
      },
      () => undefined, // unknown: keep the button; the API refuses a viewer with its own message
    );
    return () => {
      stopped = true;
    };
  }, [project]);
  return !viewerOnly;
}
