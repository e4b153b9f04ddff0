/**
 * Node flags every launch of the proxy should pass (`node ${PROXY_NODE_FLAGS} --import tsx node-proxy/main.ts`).
 * A small young generation: after a burst of big bodies V8 grows it to 16 MB, and from then on small
 * requests cost ~25 % more CPU and p99 tripled in bench:proxy (the 16 MB no longer fits the caches).
 * It cannot be set from inside the process: V8 sizes the heap before any module runs.
 */
export const PROXY_NODE_FLAGS = ['--max-semi-space-size=4'];
