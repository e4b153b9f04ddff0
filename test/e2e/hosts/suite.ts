/** What the multi-host scenarios share: the hosts, the control plane and clients for its API and database. */
import type { Deployment } from '../../../protocol/index.js';
import type { apiClient } from '../agent-support.js';
import type { ControlPlane } from './control-plane.js';
import type { WorkerHost } from './install-host.js';
import type { Host } from './netns.js';

export interface Suite {
  cp: ControlPlane;
  cpHost: Host;
  w1: WorkerHost;
  w2: WorkerHost;
  api: ReturnType<typeof apiClient>;
  sql(text: string, args?: unknown[]): Promise<any[]>;
  deployment(id: string): Promise<Deployment>;
}
