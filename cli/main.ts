/** The `zectre` CLI: builds the commander program and turns every failure into one line + exit code. */
import { Command } from 'commander';
import { registerAdmin } from './commands/admin.js';
import { registerBuilds } from './commands/builds.js';
import { registerDeploy } from './commands/deploy.js';
import { registerDeployments } from './commands/deployments.js';
import { registerDomains } from './commands/domains.js';
import { registerEnv } from './commands/env.js';
import { registerEvents } from './commands/events.js';
import { registerLogin } from './commands/login.js';
import { registerLogs } from './commands/logs.js';
import { registerMembers } from './commands/members.js';
import { registerUsers } from './commands/users.js';
import { registerNodes } from './commands/nodes.js';
import { registerProjects } from './commands/projects.js';
import { registerRollback } from './commands/rollback.js';
import { registerScale } from './commands/scale.js';
import { registerSession } from './commands/session.js';
import { registerStatus } from './commands/status.js';
import { registerJoinTokens, registerTokens } from './commands/tokens.js';
import { reportError } from './errors.js';
import { examples } from './output.js';

/** package.json's version, written in by the build (dev/build-cli.ts): the CLI runs only as built JavaScript. */
declare const ZECTRE_VERSION: string;

const program = new Command('zectre')
  .description('Deploy apps to your own Zectre cluster.')
  .version(ZECTRE_VERSION)
  // Throw instead of exiting so usage errors map to exit code 2 in one place. Subcommands inherit
  // these settings only if they are set before the subcommands are created.
  .exitOverride()
  .showHelpAfterError('(add --help for usage)')
  .addHelpText(
    'after',
    examples(
      'zectre login --api https://zectre.example.com',
      'zectre projects create hello',
      'zectre deploy examples/hello --project hello',
    ),
  );

registerLogin(program);
registerSession(program);
registerProjects(program);
registerDeploy(program);
registerDeployments(program);
registerBuilds(program);
registerRollback(program);
registerScale(program);
registerStatus(program);
registerLogs(program);
registerEnv(program);
registerDomains(program);
registerNodes(program);
registerJoinTokens(program);
registerTokens(program);
registerMembers(program);
registerUsers(program);
registerEvents(program);
registerAdmin(program);

try {
  await program.parseAsync();
} catch (err) {
  process.exitCode = reportError(err);
}
