import type { Deployment } from '../../../protocol/api.js';
import { age, shortDigest } from '../format.js';
import { Badge, Empty } from './states.js';
import { Table } from './table.js';

interface Props {
  deployments: Deployment[];
  liveId: string | null;
  /** Present when rollback is available: returns to the given release. */
  onRollback?(deployment: Deployment): void;
}

/** Releases newest first: status, age, artifact, who deployed, and each one's preview URL. */
export function Releases({ deployments, liveId, onRollback }: Props) {
  if (!deployments.length) {
    return (
      <Empty>
        <p>No releases yet.</p>
        <p class="muted">
          Deploy from your terminal: <code>zectre deploy . --project &lt;name&gt;</code>. It shows up here as it rolls out.
        </p>
      </Empty>
    );
  }
  return (
    <Table class="releases" head={['Release', 'Status', 'Age', 'Artifact', 'By', 'Replicas', '']}>
      {deployments.map((d) => (
        <tr key={d.id} data-release={d.id} data-status={d.status}>
          <td>
            <a href={d.urls.preview} target="_blank" rel="noreferrer" title="preview URL of this release">
              {d.id}
            </a>
          </td>
          <td>
            <Badge value={d.status} />
            {d.statusReason && <div class="muted small">{d.statusReason}</div>}
          </td>
          <td title={d.createdAt}>{age(d.createdAt)}</td>
          <td>
            <code title={d.artifact}>{shortDigest(d.artifact)}</code>
          </td>
          <td>{d.createdBy ?? '—'}</td>
          <td>{d.replicas}</td>
          <td>
            {onRollback && d.id !== liveId && d.liveAt && d.status !== 'failed' && (
              <button type="button" class="small" onClick={() => onRollback(d)}>
                Roll back to this
              </button>
            )}
          </td>
        </tr>
      ))}
    </Table>
  );
}
