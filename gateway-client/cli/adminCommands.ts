/**
 * `witness admin users list|create|disable|enable|set-role|reset` and
 * `witness admin sessions list|terminate` (issue #14): what an admin does to people and their
 * live sessions, through the same API and route table as everything else. Every command that
 * takes access away prints what was revoked, as the gateway answered it.
 */
import type { Writable } from 'node:stream';
import { type Command, Option } from 'commander';
import {
  type AccessRevoked,
  groupNameSchema,
  type Role,
  roles,
  usernameSchema,
} from '../../shared/api/apiSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { formatTable } from './textTable.ts';

/** What the commands need from the CLI they are part of (witnessCli.ts). */
export interface AdminCommandsContext {
  stdout: Writable;
  stderr: Writable;
  /** Runs `action` with a client signed in to the current gateway. */
  withClient(action: (client: GatewayClient) => Promise<void>): Promise<void>;
  /** Reads stdin to its end (`--password-stdin`). */
  readStdin(): Promise<string>;
  /** A usage error: reported as `witness: <message>`, exit code 2. */
  usage(message: string): Error;
}

/** Registers `witness admin` with its users and sessions commands; returns it for the others. */
export function registerAdminCommands(program: Command, ctx: AdminCommandsContext): Command {
  const admin = program
    .command('admin')
    .description('Administer the gateway: users, grants, groups, live sessions (admins only).');
  registerUserCommands(admin, ctx);
  registerSessionCommands(admin, ctx);
  return admin;
}

function registerUserCommands(admin: Command, ctx: AdminCommandsContext): void {
  const users = admin.command('users').description('List, create, disable and enable users.');
  const print = (text: string): void => {
    ctx.stdout.write(`${text}\n`);
  };

  users
    .command('list')
    .description('List every user.')
    .option('--json', 'print the API response as JSON')
    .action((options: { json?: boolean }) =>
      ctx.withClient(async (client) => {
        const list = await client.listUsers();
        if (options.json) return print(JSON.stringify(list, null, 2));
        print(
          formatTable(
            ['USERNAME', 'ROLE', 'GROUPS', 'STATE', 'ID'],
            list.map((u) => [
              u.username,
              u.role,
              u.groups.join(',') || '-',
              u.disabled ? 'disabled' : 'active',
              u.id,
            ]),
          ),
        );
      }),
    );

  users
    .command('create')
    .description(
      'Create a user and print a one-time enrollment token (or set the password from stdin).',
    )
    .argument('<username>', 'login name (lower-case)')
    .addOption(new Option('--role <role>', 'role').choices(roles).default('engineer'))
    .option('--group <group...>', 'groups the user belongs to (grants can name groups)')
    .option('--password-stdin', 'read the password from stdin instead of an enrollment token')
    .option('--json', 'print the API response as JSON')
    .action(
      (
        username: string,
        options: { role: Role; group?: string[]; passwordStdin?: boolean; json?: boolean },
      ) =>
        ctx.withClient(async (client) => {
          const name = parseWith(ctx, usernameSchema, username, 'username');
          const groups = (options.group ?? []).map((g) =>
            parseWith(ctx, groupNameSchema, g, 'group'),
          );
          const password = options.passwordStdin
            ? (await ctx.readStdin()).replace(/\r?\n$/, '')
            : undefined;
          const created = await client.createUser({
            username: name,
            role: options.role,
            groups,
            ...(password !== undefined && { password }),
          });
          if (options.json) return print(JSON.stringify(created, null, 2));
          ctx.stderr.write(
            `Created ${created.user.role} ${created.user.username} (${created.user.id}).\n`,
          );
          if (created.enrollment) {
            ctx.stderr.write(
              `Send this one-time enrollment token to ${created.user.username} (valid until ${created.enrollment.expiresAt}); they run \`witness enroll TOKEN --gateway URL\`:\n`,
            );
            print(created.enrollment.token);
          }
        }),
    );

  users
    .command('disable')
    .description(
      'Offboard a user: revoke their sign-ins, end their grants and every live session now.',
    )
    .argument('<user>', 'username or user id')
    .option('--json', 'print the API response as JSON')
    .action((user: string, options: { json?: boolean }) =>
      ctx.withClient(async (client) => {
        const id = await resolveUserId(client, user, ctx);
        const revoked = await client.disableUser(id);
        if (options.json) return print(JSON.stringify(revoked, null, 2));
        print(describeRevocation(`Disabled ${revoked.user.username}.`, revoked));
      }),
    );

  users
    .command('enable')
    .description('Let a disabled user sign in again (grants that ended stay ended).')
    .argument('<user>', 'username or user id')
    .action((user: string) =>
      ctx.withClient(async (client) => {
        const id = await resolveUserId(client, user, ctx);
        const enabled = await client.enableUser(id);
        print(`Enabled ${enabled.username}; they can sign in again.`);
      }),
    );

  users
    .command('set-role')
    .description("Change a user's role; what the new role may not do ends now.")
    .argument('<user>', 'username or user id')
    .argument('<role>', `new role: ${roles.join(', ')}`)
    .option('--json', 'print the API response as JSON')
    .action((user: string, role: string, options: { json?: boolean }) =>
      ctx.withClient(async (client) => {
        if (!(roles as readonly string[]).includes(role)) {
          throw ctx.usage(`Unknown role ${role}: use one of ${roles.join(', ')}.`);
        }
        const id = await resolveUserId(client, user, ctx);
        const changed = await client.setUserRole(id, role as Role);
        if (options.json) return print(JSON.stringify(changed, null, 2));
        print(describeRevocation(`${changed.user.username} is now ${changed.user.role}.`, changed));
      }),
    );

  users
    .command('reset')
    .description(
      "Reset a user's password and/or TOTP (both unless one is named) and revoke their sign-ins; live sessions go on.",
    )
    .argument('<user>', 'username or user id')
    .option('--password', 'reset the password: prints a one-time enrollment token for a new one')
    .option('--totp', 'reset TOTP: the user sets it up again after signing in')
    .option('--json', 'print the API response as JSON')
    .action((user: string, options: { password?: boolean; totp?: boolean; json?: boolean }) =>
      ctx.withClient(async (client) => {
        const id = await resolveUserId(client, user, ctx);
        const both = !options.password && !options.totp;
        const done = await client.resetUser(id, {
          password: both || options.password === true,
          totp: both || options.totp === true,
        });
        if (options.json) return print(JSON.stringify(done, null, 2));
        const what = [done.reset.password && 'password', done.reset.totp && 'TOTP']
          .filter(Boolean)
          .join(' and ');
        ctx.stderr.write(
          `Reset the ${what} of ${done.user.username}; their sign-ins were revoked (live sessions go on).\n`,
        );
        if (done.enrollment) {
          ctx.stderr.write(
            `Send this one-time enrollment token to ${done.user.username} (valid until ${done.enrollment.expiresAt}); they run \`witness enroll TOKEN --gateway URL\` to set a new password:\n`,
          );
          print(done.enrollment.token);
        }
      }),
    );
}

function registerSessionCommands(admin: Command, ctx: AdminCommandsContext): void {
  const sessions = admin.command('sessions').description('List and end live sessions.');
  const print = (text: string): void => {
    ctx.stdout.write(`${text}\n`);
  };

  sessions
    .command('list')
    .description('List the live sessions of every user.')
    .option('--json', 'print the API response as JSON')
    .action((options: { json?: boolean }) =>
      ctx.withClient(async (client) => {
        const live = await client.listSessions({ state: 'live' });
        if (options.json) return print(JSON.stringify(live, null, 2));
        if (live.length === 0) return print('No live sessions.');
        print(
          formatTable(
            ['ID', 'USER', 'RESOURCE', 'STARTED', 'ENDS'],
            live.map((s) => [s.id, s.username, s.resourceName, s.startedAt ?? '-', s.expiresAt]),
          ),
        );
      }),
    );

  sessions
    .command('terminate')
    .description('End a live session now; the reason is shown to its user.')
    .argument('<id>', 'session id')
    .requiredOption('--reason <text>', 'why (shown to the person whose session ends)')
    .action((id: string, options: { reason: string }) =>
      ctx.withClient(async (client) => {
        const ended = await client.terminateSession(id, options.reason);
        print(
          `Ended ${ended.id} (${ended.username} on ${ended.resourceName}): ${ended.endReason ?? 'ended'}.`,
        );
      }),
    );
}

/** A username or a user id; usernames are looked up in the list (ids start with `usr_`). */
async function resolveUserId(
  client: GatewayClient,
  user: string,
  ctx: AdminCommandsContext,
): Promise<string> {
  const users = await client.listUsers();
  const found = users.find((u) => u.username === user || u.id === user);
  if (!found)
    throw ctx.usage(`There is no user ${user} — list them with \`witness admin users list\`.`);
  return found.id;
}

function describeRevocation(headline: string, revoked: AccessRevoked): string {
  const lines = [headline];
  if (revoked.signInsRevoked) lines.push('  sign-ins revoked (API tokens refused from now on)');
  if (revoked.grantsEnded.length > 0)
    lines.push(`  grants ended: ${revoked.grantsEnded.join(', ')}`);
  if (revoked.sessionsEnded.length > 0) {
    lines.push(`  live sessions ended: ${revoked.sessionsEnded.join(', ')}`);
  }
  if (revoked.watchesEnded > 0) lines.push(`  live watches ended: ${revoked.watchesEnded}`);
  if (lines.length === 1) lines.push('  nothing else to revoke');
  return lines.join('\n');
}

function parseWith<T>(
  ctx: AdminCommandsContext,
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
  },
  value: string,
  what: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw ctx.usage(`Invalid ${what} ${value}: ${parsed.error.issues[0]?.message ?? 'invalid'}.`);
  return parsed.data;
}
