/**
 * How every launch of the agent should run it (like node-proxy/launch.ts; a heap limit cannot be set
 * from inside the process, V8 sizes the heap before any module runs):
 *   node ${AGENT_NODE_FLAGS} node-agent/main.ts
 */

/**
 * A small young generation. With Node's default, V8 grows it from 16 to 32 MB at the agent's first
 * busy moment (a log flood: dev/bench-log-flood.ts), and that was most of the agent's rise in RSS
 * once flood lines were no longer held as objects (+10-25 MB; with this flag +3-6 MB for 200,000 or
 * 500,000 lines, shipped as fast). The agent keeps little alive across young GCs (log batches are
 * Buffers, log-batch.ts), so a small one promotes next to nothing.
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=4'];
