import { spawn } from 'node:child_process';

export interface TimedRun {
  /** Each progress line (stderr; with --json the CLI's stdout is the answer) and when it came, in ms from the start; last: 'exit'. */
  marks: { t: number; line: string }[];
  stdout: string;
}

/** Runs the built CLI at `cli`, timestamping its progress lines; rejects with them when it exits non-zero. */
export function timedCli(cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<TimedRun> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env });
    const marks: TimedRun['marks'] = [];
    let stdout = '';
    let pending = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      // A chunk may end inside a line: it is timed when its end arrives.
      const lines = (pending + d.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) marks.push({ t: performance.now() - t0, line });
    });
    child.on('exit', (code) => {
      marks.push({ t: performance.now() - t0, line: 'exit' });
      if (code === 0) resolve({ marks, stdout });
      else reject(new Error(`zectre ${args.join(' ')} exited ${code}:\n${marks.map((m) => m.line).join('\n')}`));
    });
  });
}
