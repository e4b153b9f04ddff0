import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli } from '../dev/build-cli.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

let built: Promise<string> | undefined;

/**
 * The CLI as users get it (the esbuild bundle), built from the current sources once per test
 * process, into a directory of its own: test files run in parallel and must not rewrite each other's.
 */
export function builtCli(): Promise<string> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zectre-cli-build-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return buildCli(dir);
  })();
  return built;
}

export interface RunningCli {
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  done: Promise<CliRun>;
}

/** Starts the built binary and lets the caller watch its output while it runs (to act at a given step). */
export async function startCli(args: string[], env: Record<string, string>): Promise<RunningCli> {
  const bin = await builtCli();
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => ((stdout += d), (output += d)));
  child.stderr.on('data', (d: Buffer) => ((stderr += d), (output += d)));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { output: () => output, done };
}

/**
 * Runs the built `zectre` binary (as users do), with only the env given plus PATH/HOME; killed after
 * `timeoutMs`, which only catches a hang: a waiting command is bounded by its own deadlines, and a
 * loaded machine makes it slow, not wrong (30 s killed `env set` while it waited for its release).
 */
export async function runCli(args: string[], env: Record<string, string>, cwd?: string, timeoutMs = 300_000): Promise<CliRun> {
  const bin = await builtCli();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
