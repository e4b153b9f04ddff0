import { createInterface } from 'node:readline/promises';
import { UsageError } from './errors.js';

/** Asks the user to type `expected` to go on; without a terminal, --yes is required instead. */
export async function confirmByTyping(question: string, expected: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError(`${question} Pass --yes to confirm (stdin is not a terminal, so there is no one to ask).`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question}\nType ${expected} to confirm: `);
    return answer.trim() === expected;
  } catch {
    return false; // Ctrl-D / Ctrl-C at the prompt means no
  } finally {
    rl.close();
  }
}
