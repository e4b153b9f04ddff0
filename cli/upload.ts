import { SingleBar } from 'cli-progress';
import type { Artifact } from '../protocol/index.js';
import type { ApiClient } from './api-client.js';
import { ApiError } from './errors.js';
import { formatBytes } from './output.js';
import type { PackedArtifact } from './pack.js';

const CHUNK = 64 * 1024;

/** Progress lines (not a terminal: CI logs, pipes) at these fractions of the bytes sent. */
const LINE_STEPS = [0.25, 0.5, 0.75];

/**
 * Uploads a packed artifact into a project's registry (the project owns it from then on), showing a
 * byte progress bar on a terminal (stderr), else a line at every quarter through `say`. Progress
 * advances as fetch pulls chunks from the stream, i.e. as bytes are handed to the connection.
 */
export async function uploadArtifact(
  client: ApiClient,
  project: string,
  packed: PackedArtifact,
  showBar: boolean,
  say: (line: string) => void,
): Promise<Artifact> {
  const total = packed.data.byteLength;
  if (!showBar) say(`uploading ${formatBytes(total)}…`);
  let step = 0;
  const lines = (sent: number) => {
    for (; step < LINE_STEPS.length && sent >= total * LINE_STEPS[step]!; step++) {
      say(`uploading: ${Math.round(LINE_STEPS[step]! * 100)}% (${formatBytes(sent)} of ${formatBytes(total)})`);
    }
  };
  const bar = showBar
    ? new SingleBar({
        format: 'uploading [{bar}] {percentage}% {done}/{size}',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
      })
    : null;
  bar?.start(total, 0, { done: formatBytes(0), size: formatBytes(total) });
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const chunk = packed.data.subarray(sent, Math.min(sent + CHUNK, total));
      sent += chunk.byteLength;
      controller.enqueue(chunk);
      if (bar) bar.update(sent, { done: formatBytes(sent), size: formatBytes(total) });
      else lines(sent);
    },
  });
  try {
    return await client.request<Artifact>('PUT', `/api/v1/projects/${encodeURIComponent(project)}/artifacts`, {
      body,
      headers: { 'content-type': 'application/gzip', 'x-zectre-digest': packed.digest },
    });
  } finally {
    bar?.stop();
  }
}

/**
 * The artifact when `project` already has these bytes in the registry (a redeploy of an unchanged
 * tree), else null. Only this project's artifacts count: bytes another project uploaded answer 404
 * like unknown ones and are uploaded again, which is what makes them this project's. A server
 * without the route (404 route_not_found) also means "upload".
 */
export async function findArtifact(client: ApiClient, project: string, digest: string): Promise<Artifact | null> {
  try {
    return await client.get<Artifact>(`/api/v1/projects/${encodeURIComponent(project)}/artifacts/${encodeURIComponent(digest)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}
