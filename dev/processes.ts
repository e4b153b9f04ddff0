import { spawn, type ChildProcess } from 'node:child_process';

/** A child process of the local stack, with its output prefixed and kept for error messages. */
export interface Child {
  name: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Print output lines with a `[name]` prefix. */
  echo?: boolean;
}

export function startChild(name: string, command: string, args: string[], opts: SpawnOptions = {}): Child {
  // Own process group, so stop() can take down wrangler's workerd and anything else it forks.
  const proc = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let buffer = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    buffer = (buffer + text).slice(-64 * 1024);
    if (opts.echo) for (const line of text.split('\n')) if (line.trim()) process.stdout.write(`[${name}] ${line}\n`);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    name,
    proc,
    output: () => buffer,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      signalGroup(proc, 'SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) signalGroup(proc, 'SIGKILL');
      await exited;
      // Whatever the leader left in its group (workerd under wrangler) goes too.
      signalGroup(proc, 'SIGKILL');
    },
  };
}

function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid!, signal);
  } catch {
    // the group is already gone
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` resolves truthy, failing with the child's recent output if it exits or times out. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, child?: Child): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.proc.exitCode !== null) {
      throw new Error(`${child.name} exited (code ${child.proc.exitCode}) while waiting for ${what}:\n${child.output().slice(-3000)}`);
    }
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${child ? `:\n${child.output().slice(-3000)}` : ''}`);
    }
    await sleep(100);
  }
}
