import { InvalidArgumentError, Option, type Command } from 'commander';
import { ROLES, type CreatedInvite, type CreateInvite, type InviteView, type MemberRemoved, type MemberRoleChanged, type MemberView, type ProjectRole } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, table } from '../output.js';

const path = (project: string, rest = '') => `/api/v1/projects/${encodeURIComponent(project)}${rest}`;

function parseRole(value: string): ProjectRole {
  if (!(ROLES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}`);
  return value as ProjectRole;
}

function parseHours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 / 60 || n > 720) throw new InvalidArgumentError('expected hours, from 0.017 (one minute) to 720');
  return n;
}

export function registerMembers(program: Command): void {
  const members = program
    .command('members')
    .description('who can do what on a project: viewers read, developers deploy and change env, owners also manage members and delete');

  members
    .command('list')
    .description('the members of PROJECT and their roles (any member may look)')
    .argument('<project>', 'project name')
    .option('--invites', 'also list the invites (owners only)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre members list hello', 'zectre members list hello --invites'))
    .action(async (project: string, opts: { invites?: boolean; json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ members: MemberView[] }>(path(project, '/members'));
      const invites = opts.invites ? (await client.get<{ invites: InviteView[] }>(path(project, '/invites'))).invites : undefined;
      if (opts.json) return printJson(invites ? { ...answer, invites } : answer);
      console.log(table(['USER', 'ROLE', 'ID'], answer.members.map((m) => [m.name, m.disabled ? `${m.role} (disabled)` : m.role, m.userId])));
      if (invites) {
        console.log('');
        if (!invites.length) console.log('no invites');
        else console.log(table(['INVITE', 'ROLE', 'STATE', 'BY', 'EXPIRES', 'ACCEPTED BY'], invites.map((i) => [
          i.id, i.role, i.state, i.createdBy ?? '', i.expiresAt, i.acceptedBy ?? '',
        ])));
      }
    });

  members
    .command('invite')
    .description('make a one-time invite link to PROJECT with a role (owners only); whoever opens it first and signs in joins')
    .argument('<project>', 'project name')
    .addOption(new Option('--role <role>', 'the role the invite grants').choices([...ROLES]).makeOptionMandatory())
    .option('--expires-in <hours>', 'lifetime in hours (default 168, one week)', parseHours)
    .option('--json', 'print JSON (includes the link)')
    .addHelpText('after', examples('zectre members invite hello --role developer'))
    .action(async (project: string, opts: { role: ProjectRole; expiresIn?: number; json?: boolean }) => {
      const client = await clientFromConfig();
      const body: CreateInvite = { role: opts.role, ...(opts.expiresIn ? { expiresInHours: opts.expiresIn } : {}) };
      const answer = await client.post<CreatedInvite>(path(project, '/invites'), body);
      const url = `${client.apiUrl}${answer.url}`;
      if (opts.json) return printJson({ ...answer, url });
      console.log(url);
      console.error(`invite ${answer.id}: ${answer.role} of ${project}, works once, until ${answer.expiresAt}; the link is shown only now. Revoke it with: zectre members revoke-invite ${project} ${answer.id}`);
    });

  members
    .command('revoke-invite')
    .description('make an invite link stop working (owners only)')
    .argument('<project>', 'project name')
    .argument('<invite>', 'invite id (see `zectre members list PROJECT --invites`)')
    .addHelpText('after', examples('zectre members revoke-invite hello i1234abcd5678'))
    .action(async (project: string, id: string) => {
      const client = await clientFromConfig();
      const answer = await client.delete<{ invite: InviteView }>(path(project, `/invites/${encodeURIComponent(id)}`));
      console.log(`invite ${answer.invite.id} (${answer.invite.role}) is ${answer.invite.state}`);
    });

  members
    .command('set-role')
    .description("change a member's role (owners only); a project always keeps an owner")
    .argument('<project>', 'project name')
    .argument('<user>', 'user name or id')
    .argument('<role>', ROLES.join(' | '), parseRole)
    .addHelpText('after', examples('zectre members set-role hello ada viewer'))
    .action(async (project: string, user: string, role: ProjectRole) => {
      const client = await clientFromConfig();
      const answer = await client.put<MemberRoleChanged>(
        path(project, `/members/${encodeURIComponent(user)}`),
        { role },
      );
      console.log(answer.changed
        ? `${answer.member.name} is now ${answer.member.role} of ${project} (was ${answer.previousRole})`
        : `${answer.member.name} already is ${answer.member.role} of ${project}; nothing changed`);
    });

  members
    .command('remove')
    .description('remove a member from PROJECT (owners only); a project always keeps an owner')
    .argument('<project>', 'project name')
    .argument('<user>', 'user name or id')
    .addHelpText('after', examples('zectre members remove hello ada'))
    .action(async (project: string, user: string) => {
      const client = await clientFromConfig();
      const answer = await client.delete<MemberRemoved>(path(project, `/members/${encodeURIComponent(user)}`));
      console.log(`removed ${answer.removed.name} (${answer.removed.role}) from ${project}`);
    });
}
