import { SingleBar } from 'cli-progress';
import type { Artifact } from '../protocol/index.js';
import type { ApiClient } from './api-client.js';
import { formatBytes } from './output.js';
import type { PackedArtifact } from './pack.js';

const CHUNK = 64 * 1024;

/**
 * Uploads a packed artifact into a project's registry (the project owns it from then on), showing a
 * byte progress bar on a terminal (stderr). The bar advances as fetch pulls chunks from the stream,
 * i.e. as bytes are handed to the connection.
 */
export async function uploadArtifact(client: ApiClient, project: string, packed: PackedArtifact, showBar: boolean): Promise<Artifact> {
  const total = packed.data.byteLength;
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
      bar?.update(sent, { done: formatBytes(sent), size: formatBytes(total) });
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
