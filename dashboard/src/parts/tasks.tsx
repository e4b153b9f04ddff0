import type { Deployment } from '../../../protocol/api.js';
import { age } from '../format.js';
import { Badge, Empty } from './states.js';
import { Table } from './table.js';

/** Tasks that should be running (live and rolling-out releases), with where and how they run. */
export function Tasks({ deployments }: { deployments: Deployment[] }) {
  const rows = deployments.flatMap((d) => d.tasks.filter((t) => t.desiredState === 'running').map((t) => ({ d, t })));
  if (!rows.length) return <Empty>No running tasks.</Empty>;
  return (
    <Table head={['Task', 'Release', 'Node', 'State', 'Restarts', 'Updated']}>
      {rows.map(({ d, t }) => (
        <tr key={t.id} data-task-of={d.id}>
          <td>
            <code>{t.id}</code>
          </td>
          <td>
            <code>{d.id}</code>
          </td>
          <td>
            {t.nodeName} <span class="muted small">:{t.port}</span>
          </td>
          <td>
            <Badge value={t.retiring ? 'retiring' : t.observedState} />
            {t.message && <div class="muted small">{t.message}</div>}
          </td>
          <td>{t.restarts}</td>
          <td>{age(t.updatedAt)}</td>
        </tr>
      ))}
    </Table>
  );
}
