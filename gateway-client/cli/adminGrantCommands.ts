/**
 * `witness admin grants list|add|edit|delete` (issue #14): grants written from the command
 * line instead of hand-written `POST /v1/grants`. The gateway checks everything (admins only,
 * the subject and resource exist, windows make sense); these commands turn flags into the
 * route table's bodies and print the answer.
 */
import type { Writable } from 'node:stream';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type CreateGrantRequest,
  type Grant,
  parseDurationSeconds,
  type UpdateGrantRequest,
} from '../../shared/api/apiSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { formatTable } from './textTable.ts';

export interface AdminGrantCommandsContext {
  stdout: Writable;
  withClient(action: (client: GatewayClient) => Promise<void>): Promise<void>;
  /** A usage error: reported as `witness: <message>`, exit code 2. */
  usage(message: string): Error;
}

interface GrantFlags {
  approval?: boolean;
  standing?: boolean;
  from?: string;
  until?: string;
  maxSession?: number;
  approverUser?: string[];
  approverGroup?: string[];
  approvals?: number;
  description?: string;
  json?: boolean;
}

interface AddFlags extends GrantFlags {
  user?: string;
  group?: string;
  resource?: string;
  labels?: Record<string, string>;
}

/** Adds `grants …` below the `admin` command. */
export function registerAdminGrantCommands(admin: Command, context: AdminGrantCommandsContext) {
  const print = (text: string): void => {
    context.stdout.write(`${text}\n`);
  };
  const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));
  const grants = admin.command('grants').description('List, add, edit and delete grants.');

  grants
    .command('list', { isDefault: true })
    .description('List every grant.')
    .option(
      '--expiring-within <duration>',
      'only grants that end within this time, e.g. 7d',
      parseDuration,
    )
    .option('--json', 'print the API response as JSON')
    .action((options: { expiringWithin?: number; json?: boolean }) =>
      context.withClient(async (client) => {
        const { grants: list } = await client.call('listGrants', {
          query:
            options.expiringWithin === undefined
              ? {}
              : { expiringWithin: `${options.expiringWithin}s` },
        });
        if (options.json) return printJson({ grants: list });
        if (list.length === 0) {
          print(
            options.expiringWithin === undefined
              ? 'There are no grants yet. Add one with `witness admin grants add`.'
              : 'No grant ends within that time.',
          );
          return;
        }
        print(
          formatTable(
            ['ID', 'SUBJECT', 'TARGET', 'MODE', 'VALID UNTIL', 'MAX SESSION', 'APPROVERS'],
            list.map((g) => [
              g.id,
              g.subject.kind === 'user' ? `user:${g.subject.userId}` : `group:${g.subject.group}`,
              g.target.kind === 'resource'
                ? `resource:${g.target.resourceId}`
                : `labels:${Object.entries(g.target.selector)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(',')}`,
              g.mode,
              g.validUntil ?? '-',
              `${g.maxSessionSeconds}s`,
              g.mode === 'approval' ? approversText(g) : '',
            ]),
          ),
        );
      }),
    );

  const withGrantFlags = (command: Command) =>
    command
      .option('--approval', 'access needs an approved request (default: standing)')
      .option('--standing', 'access without a request')
      .option('--from <time>', 'valid from (ISO time)')
      .option('--until <time>', 'valid until (ISO time)')
      .option('--max-session <duration>', 'longest session or request, e.g. 1h', parseDuration)
      .option('--approver-user <id>', 'a user who may approve (repeatable)', collect)
      .option('--approver-group <group>', 'a group whose members may approve (repeatable)', collect)
      .option('--approvals <n>', 'how many distinct approvals a request needs', parseCount)
      .option('--description <text>', 'what the grant is for')
      .option('--json', 'print the grant as JSON');

  withGrantFlags(
    grants
      .command('add')
      .description('Add a grant: a user or group, a resource or label selector.')
      .option('--user <user>', 'the user (name or id) the grant is for')
      .option('--group <group>', 'the group the grant is for')
      .option('--resource <name>', 'the resource (name or id)')
      .option('--labels <k=v,…>', 'every resource with these labels', parseLabels),
  ).action((options: AddFlags) =>
    context.withClient(async (client) => {
      if ((options.user === undefined) === (options.group === undefined)) {
        throw context.usage('Name exactly one subject: --user ID or --group NAME.');
      }
      if ((options.resource === undefined) === (options.labels === undefined)) {
        throw context.usage('Name exactly one target: --resource NAME or --labels k=v,….');
      }
      let target: CreateGrantRequest['target'];
      if (options.resource !== undefined) {
        const wanted = options.resource;
        const resources = await client.listResources();
        const found = resources.find((r) => r.name === wanted || r.id === wanted);
        if (!found) {
          throw context.usage(`No resource named '${wanted}'. \`witness resources\` lists them.`);
        }
        target = { kind: 'resource', resourceId: found.id };
      } else {
        target = { kind: 'labels', selector: options.labels ?? {} };
      }
      const body: CreateGrantRequest = {
        subject:
          options.user !== undefined
            ? { kind: 'user', userId: await userIdOf(client, options.user, context) }
            : { kind: 'group', group: options.group ?? '' },
        target,
        ...grantFields(options, context),
      };
      const grant = await client.call('createGrant', { body });
      if (options.json) return printJson(grant);
      print(`Added grant ${grant.id} (${grant.mode}).`);
    }),
  );

  withGrantFlags(
    grants.command('edit').description('Change a grant.').argument('<grant>', 'the grant id'),
  ).action((id: string, options: GrantFlags) =>
    context.withClient(async (client) => {
      const body: UpdateGrantRequest = grantFields(options, context);
      if (Object.keys(body).length === 0) throw context.usage('Nothing to change: pass a flag.');
      const grant = await client.call('updateGrant', { params: { id }, body });
      if (options.json) return printJson(grant);
      print(`Updated grant ${grant.id}.`);
    }),
  );

  grants
    .command('delete')
    .description('Delete a grant; sessions under it end.')
    .argument('<grant>', 'the grant id')
    .action((id: string) =>
      context.withClient(async (client) => {
        await client.call('deleteGrant', { params: { id } });
        print(`Deleted grant ${id}; sessions under it end now.`);
      }),
    );
}

/** Adds `groups list|add-member|remove-member` below the `admin` command. */
export function registerAdminGroupCommands(admin: Command, context: AdminGrantCommandsContext) {
  const print = (text: string): void => {
    context.stdout.write(`${text}\n`);
  };
  const groups = admin.command('groups').description('List groups; add and remove members.');
  groups
    .command('list', { isDefault: true })
    .description('List every group with its members.')
    .option('--json', 'print the API response as JSON')
    .action((options: { json?: boolean }) =>
      context.withClient(async (client) => {
        const list = await client.listGroups();
        if (options.json) return print(JSON.stringify({ groups: list }, null, 2));
        if (list.length === 0) {
          print('There are no groups yet. Add a member with `witness admin groups add-member`.');
          return;
        }
        print(
          formatTable(
            ['GROUP', 'MEMBERS'],
            list.map((g) => [g.name, g.members.map((m) => m.username).join(', ')]),
          ),
        );
      }),
    );
  groups
    .command('add-member')
    .description('Put a user in a group (creating the group).')
    .argument('<group>', 'the group name')
    .argument('<user>', 'the user id')
    .action((name: string, userId: string) =>
      context.withClient(async (client) => {
        const group = await client.addGroupMember(name, userId);
        print(`Group ${group.name}: ${group.members.map((m) => m.username).join(', ')}.`);
      }),
    );
  groups
    .command('remove-member')
    .description('Take a user out of a group.')
    .argument('<group>', 'the group name')
    .argument('<user>', 'the user id')
    .action((name: string, userId: string) =>
      context.withClient(async (client) => {
        await client.removeGroupMember(name, userId);
        print(`Removed ${userId} from group ${name}.`);
      }),
    );
}

/** A user named by username or id, as the grant stores it: the id. */
async function userIdOf(
  client: GatewayClient,
  user: string,
  context: AdminGrantCommandsContext,
): Promise<string> {
  const found = (await client.listUsers()).find((u) => u.username === user || u.id === user);
  if (!found) {
    throw context.usage(`There is no user ${user} — list them with \`witness admin users list\`.`);
  }
  return found.id;
}

/** The fields `add` and `edit` share, only those given. */
function grantFields(options: GrantFlags, context: AdminGrantCommandsContext): UpdateGrantRequest {
  if (options.approval && options.standing) {
    throw context.usage('A grant is either --approval or --standing, not both.');
  }
  const approvers =
    options.approverUser !== undefined || options.approverGroup !== undefined
      ? { users: options.approverUser ?? [], groups: options.approverGroup ?? [] }
      : undefined;
  return {
    ...(options.approval ? { mode: 'approval' as const } : {}),
    ...(options.standing ? { mode: 'standing' as const } : {}),
    ...(options.from !== undefined ? { validFrom: isoTime(options.from) } : {}),
    ...(options.until !== undefined ? { validUntil: isoTime(options.until) } : {}),
    ...(options.maxSession !== undefined ? { maxSessionSeconds: options.maxSession } : {}),
    ...(approvers ? { approvers } : {}),
    ...(options.approvals !== undefined ? { approvalsRequired: options.approvals } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
  };
}

function approversText(grant: Grant): string {
  const { users, groups } = grant.approvers;
  const named = [...users.map((u) => `user:${u}`), ...groups.map((g) => `group:${g}`)];
  return `${grant.approvalsRequired} of ${named.length > 0 ? named.join(',') : 'admins'}`;
}

function isoTime(text: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`'${text}' is not a time.`);
  return new Date(ms).toISOString();
}

function parseDuration(text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds <= 0) {
    throw new InvalidArgumentError('a duration such as 30m, 2h or 7d.');
  }
  return seconds;
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number from 1.');
  return n;
}

function parseLabels(text: string): Record<string, string> {
  const pairs = text.split(',').map((pair) => pair.split('='));
  if (pairs.some((pair) => pair.length !== 2 || !pair[0])) {
    throw new InvalidArgumentError('labels as key=value,key=value.');
  }
  return Object.fromEntries(pairs);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
