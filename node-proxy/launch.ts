/**
 * How every launch of the proxy should run it (measured with bench:proxy; neither can be set from
 * inside the process, which is why they are here and not in main.ts):
 *   PROXY_ENV node ${PROXY_NODE_FLAGS} --import tsx node-proxy/main.ts
 */

/**
 * A small young generation: after a burst of big bodies V8 grows it to 16 MB, and from then on small
 * requests cost ~25 % more CPU and p99 tripled (the 16 MB no longer fits the caches). V8 sizes the
 * heap before any module runs.
 */
export const PROXY_NODE_FLAGS = ['--max-semi-space-size=4'];

/**
 * glibc malloc keeps up to 64 MiB of freed heap instead of returning it at once: every socket read
 * allocates a 64 KiB buffer, and at streaming rates the heap top went up and down (brk + page faults)
 * on nearly every read: 1 MiB bodies ran at 200-350 MB/s instead of 850-1100 MB/s. Costs at most
 * that much RSS. Read by glibc at process start.
 */
export const PROXY_ENV: Record<string, string> = {
  MALLOC_TOP_PAD_: String(64 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024),
};
