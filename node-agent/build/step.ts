/**
 * One build step: `sh -c <command>` as the build's own uid, in its own process group, under
 * `prlimit` (address space = the build's memory limit, CPU seconds = its time limit, a bounded
 * number of processes), with exactly the environment it is given. Output lines go to `onLine` as
 * they come; a kill ends the whole group.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TaskUser } from '../task-users.js';
import { signalGroup } from '../process-group.js';

export interface StepOptions {
  command: string;
  cwd: string;
  env: Record<string, string>;
  user: TaskUser | undefined;
  memoryMb: number;
  cpuSeconds: number;
  onLine: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface RunningStep {
  /** Exit code, or the signal that ended it. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

export function runStep(opts: StepOptions): RunningStep {
  const limits = [`--as=${opts.memoryMb * 1024 * 1024}`, `--cpu=${opts.cpuSeconds}`, '--core=0', ...(opts.user ? ['--nproc=4096'] : [])];
  // nice 10: a build on a node that also serves apps yields the CPU to them.
  const child = spawn('prlimit', [...limits, '--', 'nice', '-n', '10', '/bin/sh', '-c', opts.command], {
    cwd: opts.cwd,
    env: opts.env,
    detached: true, // its own process group: a kill reaches npm's children too
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
  });
  const streams = (['stdout', 'stderr'] as const).map(
    (name) =>
      new Promise<void>((resolve) => {
        const rl = createInterface({ input: child[name]!, crlfDelay: Infinity });
        rl.on('line', (line) => opts.onLine(name, line));
        rl.on('close', resolve);
      }),
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (err) => {
      opts.onLine('stderr', `could not start the step: ${err.message}`);
      resolve({ code: 127, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const kill = () => {
    if (child.pid) signalGroup(child.pid, 'SIGKILL');
  };
  return {
    // Output ends when every writer in the group closed the pipes; a background process that keeps
    // them open is killed with the group once the step's own process exited.
    done: exited.then(async (result) => {
      const drained = await Promise.race([Promise.all(streams).then(() => true), new Promise((r) => setTimeout(() => r(false), 2_000))]);
      if (!drained) kill();
      await Promise.all(streams);
      return result;
    }),
    kill,
  };
}
