import type { NodeView } from '../../../protocol/operate.js';
import { api } from '../api.js';
import { age } from '../format.js';
import { Badge, Empty, ErrorBox, Loading, Outcome } from '../parts/states.js';
import { Table } from '../parts/table.js';
import { useAction } from '../parts/use-action.js';
import { usePoll } from '../poll.js';

const pct = (used: number, total: number) => (total ? Math.round((100 * used) / total) : 0);

export function Nodes() {
  const nodes = usePoll(() => api<{ nodes: NodeView[] }>('/nodes'), 3000, 'nodes');
  const { error, run } = useAction(() => nodes.refresh());
  const drain = (n: NodeView) =>
    run(
      async () => {
        await api(`/nodes/${n.id}/drain`, { method: 'POST' });
      },
      { confirm: `Drain ${n.name}? Its tasks move to other nodes and nothing new is placed on it.` },
    );
  const list = nodes.data?.nodes;
  return (
    <section>
      <h1>Nodes</h1>
      <ErrorBox error={nodes.error} context="Could not load nodes" />
      <Outcome error={error} />
      {!list && !nodes.error && <Loading what="nodes" />}
      {list && !list.length && (
        <Empty>
          <p>No nodes have joined yet.</p>
          <p class="muted">
            Make a join token with <code>zectre join-tokens create</code> and run the installer on a VM.
          </p>
        </Empty>
      )}
      {list && list.length > 0 && (
        <Table head={['Node', 'Status', 'CPU', 'Memory', 'Tasks', 'Last heartbeat', '']}>
          {list.map((n) => (
            <tr key={n.id} data-node={n.name}>
              <td>
                {n.name}
                <div class="muted small">{n.address}</div>
              </td>
              <td>
                <Badge value={n.status} />
              </td>
              <td title={`${pct(n.allocated.cpuMillis, n.capacity.cpuMillis)}% allocated`}>
                {n.allocated.cpuMillis} / {n.capacity.cpuMillis} m
              </td>
              <td title={`${pct(n.allocated.memoryMb, n.capacity.memoryMb)}% allocated`}>
                {n.allocated.memoryMb} / {n.capacity.memoryMb} MB
              </td>
              <td>{n.runningTasks}</td>
              <td title={n.lastHeartbeatAt}>{age(n.lastHeartbeatAt)}</td>
              <td>
                {n.status === 'ready' && (
                  <button type="button" class="small" onClick={() => drain(n)}>
                    Drain
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
