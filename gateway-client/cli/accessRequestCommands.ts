/**
 * `witness request RESOURCE --reason … --for 2h`, `witness requests` (mine) and `witness
 * approvals [list|approve|deny]` (the queue of requests I may decide) — just-in-time access,
 * issue #14. Every rule (who may ask, for how long, who may approve, how many approvals) is the
 * gateway's; these commands ask and print what it answered.
 */
import type { Writable } from 'node:stream';
import { type Command, InvalidArgumentError } from 'commander';
import { type AccessRequest, parseDurationSeconds } from '../../shared/api/apiSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { formatTable } from './textTable.ts';

/** What the commands need from the CLI they are part of (witnessCli.ts). */
export interface AccessRequestCommandsContext {
  stdout: Writable;
  /** Runs `action` with a client signed in to the current gateway. */
  withClient(action: (client: GatewayClient) => Promise<void>): Promise<void>;
}

export function registerAccessRequestCommands(
  program: Command,
  context: AccessRequestCommandsContext,
): void {
  const print = (text: string): void => {
    context.stdout.write(`${text}\n`);
  };
  const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

  program
    .command('request')
    .description('Ask for time-boxed access to a resource whose grant needs approval.')
    .argument('<resource>', 'resource name or id')
    .requiredOption('--reason <text>', 'why you need access (approvers read it)')
    .requiredOption('--for <duration>', 'how long, e.g. 30m or 2h', parseDurationOption)
    .option('--json', 'print the request as JSON')
    .action((resource: string, options: { reason: string; for: number; json?: boolean }) =>
      context.withClient(async (client) => {
        const request = await client.call('createAccessRequest', {
          body: { resource, reason: options.reason, durationSeconds: options.for },
        });
        if (options.json) return printJson(request);
        print(
          `Requested ${formatSeconds(request.durationSeconds)} of access to ${request.resourceName} (${request.id}); ` +
            `it needs ${request.approvalsRequired} approval${request.approvalsRequired === 1 ? '' : 's'}.`,
        );
        print('See where it stands with `witness requests`.');
      }),
    );

  program
    .command('requests')
    .description('List your access requests and where they stand.')
    .option('--json', 'print the API response as JSON')
    .action((options: { json?: boolean }) =>
      context.withClient(async (client) => {
        const { requests } = await client.call('listAccessRequests', { query: { scope: 'mine' } });
        if (options.json) return printJson({ requests });
        if (requests.length === 0) {
          print(
            'You have made no access requests. `witness resources` shows what you may request.',
          );
          return;
        }
        print(
          formatTable(
            ['ID', 'RESOURCE', 'FOR', 'STATE', 'APPROVALS', 'ACCESS UNTIL', 'REASON'],
            requests.map((r) => [
              r.id,
              r.resourceName,
              formatSeconds(r.durationSeconds),
              r.state,
              `${approvals(r)}/${r.approvalsRequired}`,
              r.accessUntil ?? '',
              r.reason,
            ]),
          ),
        );
      }),
    );

  const approvalsCommand = program
    .command('approvals')
    .description('The access requests waiting for your decision; approve or deny them.');
  approvalsCommand
    .command('list', { isDefault: true })
    .description('List the requests you may approve or deny.')
    .option('--json', 'print the API response as JSON')
    .action((options: { json?: boolean }) =>
      context.withClient(async (client) => {
        const { requests } = await client.call('listAccessRequests', {
          query: { scope: 'queue' },
        });
        if (options.json) return printJson({ requests });
        if (requests.length === 0) {
          print('No requests are waiting for your decision.');
          return;
        }
        print(
          formatTable(
            ['ID', 'WHO', 'RESOURCE', 'FOR', 'APPROVALS', 'ASKED AT', 'REASON'],
            requests.map((r) => [
              r.id,
              r.username,
              r.resourceName,
              formatSeconds(r.durationSeconds),
              `${approvals(r)}/${r.approvalsRequired}`,
              r.createdAt,
              r.reason,
            ]),
          ),
        );
      }),
    );
  for (const decision of ['approve', 'deny'] as const) {
    approvalsCommand
      .command(decision)
      .description(`${decision === 'approve' ? 'Approve' : 'Deny'} an access request.`)
      .argument('<request>', 'the request id (see `witness approvals`)')
      .option('--comment <text>', 'a note the requester sees', '')
      .option('--json', 'print the request as JSON')
      .action((id: string, options: { comment: string; json?: boolean }) =>
        context.withClient(async (client) => {
          const request = await client.call(
            decision === 'approve' ? 'approveAccessRequest' : 'denyAccessRequest',
            { params: { id }, body: { comment: options.comment } },
          );
          if (options.json) return printJson(request);
          print(describeDecided(request, decision));
        }),
      );
  }
}

function describeDecided(request: AccessRequest, decision: 'approve' | 'deny'): string {
  const whose = `${request.username}'s request for ${request.resourceName}`;
  if (decision === 'deny') return `Denied ${whose}.`;
  if (request.state === 'approved') {
    return `Approved ${whose}: access until ${request.accessUntil ?? '(unknown)'}.`;
  }
  return `Approved ${whose}; ${request.approvalsRequired - approvals(request)} more approval(s) needed.`;
}

function approvals(request: AccessRequest): number {
  return request.decisions.filter((d) => d.decision === 'approve').length;
}

function parseDurationOption(text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds <= 0) {
    throw new InvalidArgumentError('a duration such as 30m, 2h or 1d.');
  }
  return seconds;
}

function formatSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
