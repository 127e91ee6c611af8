/**
 * `witness admin machines list|add|remove` (issue #18): machine identities — a CI job's
 * workload token bound by issuer, audience and exact claims — written from the command line.
 * The identity is a Witness user of the same name, so its grants are `witness admin grants add
 * --user NAME`. The gateway checks everything (admins only, standard claims refused as
 * bindings); these commands turn flags into the route table's bodies and print the answer.
 */
import type { Writable } from 'node:stream';
import { type Command, InvalidArgumentError } from 'commander';
import type { MachineIdentity } from '../../shared/api/machineSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { formatTable } from './textTable.ts';

export interface AdminMachineCommandsContext {
  stdout: Writable;
  withClient(action: (client: GatewayClient) => Promise<void>): Promise<void>;
  /** A usage error: reported as `witness: <message>`, exit code 2. */
  usage(message: string): Error;
}

interface AddFlags {
  issuer: string;
  audience: string;
  claim?: Record<string, string>;
  group?: string[];
  json?: boolean;
}

/** Adds `machines …` below the `admin` command. */
export function registerAdminMachineCommands(
  admin: Command,
  context: AdminMachineCommandsContext,
): void {
  const print = (text: string): void => {
    context.stdout.write(`${text}\n`);
  };
  const machines = admin
    .command('machines')
    .description('List, add and remove machine identities (CI jobs signing in with their token).');

  machines
    .command('list', { isDefault: true })
    .description('List every machine identity and what its token must say.')
    .option('--json', 'print the API response as JSON')
    .action((options: { json?: boolean }) =>
      context.withClient(async (client) => {
        const identities = await client.listMachineIdentities();
        if (options.json) return print(JSON.stringify({ identities }, null, 2));
        if (identities.length === 0) {
          print('There are no machine identities yet. Add one with `witness admin machines add`.');
          return;
        }
        print(
          formatTable(
            ['NAME', 'ISSUER', 'AUDIENCE', 'CLAIMS'],
            identities.map((m) => [m.name, m.issuer, m.audience, claimsText(m)]),
          ),
        );
      }),
    );

  machines
    .command('add')
    .description("Bind a name to a CI system's workload tokens (issuer, audience, exact claims).")
    .argument('<name>', 'the identity, also its Witness user name (grants name it)')
    .requiredOption(
      '--issuer <url>',
      "the token's iss, e.g. https://token.actions.githubusercontent.com",
    )
    .requiredOption('--audience <aud>', "the token's aud the job asks for")
    .option(
      '--claim <key=value>',
      'a claim the token must carry with exactly this value (repeat: repository, ref, …)',
      collectClaim,
    )
    .option('--group <group>', 'a group the identity joins (repeat)', collectList)
    .option('--json', 'print the API response as JSON')
    .action((name: string, options: AddFlags) =>
      context.withClient(async (client) => {
        if (!options.claim || Object.keys(options.claim).length === 0) {
          throw context.usage(
            'Bind at least one claim with --claim KEY=VALUE (repository=acme/app, for instance); without one any job of the issuer would match.',
          );
        }
        const identity = await client.createMachineIdentity({
          name,
          issuer: options.issuer,
          audience: options.audience,
          claims: options.claim,
          groups: options.group ?? [],
        });
        if (options.json) return print(JSON.stringify(identity, null, 2));
        print(`Added machine identity ${identity.name} (${claimsText(identity)}).`);
        print(
          `Give it access with \`witness admin grants add --user ${identity.name} --resource …\`; a job signs in with \`witness login URL --id-token FILE\`.`,
        );
      }),
    );

  machines
    .command('remove')
    .description('Remove a machine identity; its sessions end and its tokens are refused.')
    .argument('<name>', 'the identity')
    .action((name: string) =>
      context.withClient(async (client) => {
        await client.deleteMachineIdentity(name);
        print(`Removed machine identity ${name}.`);
      }),
    );
}

function claimsText(identity: MachineIdentity): string {
  return Object.entries(identity.claims)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

function collectClaim(value: string, previous: Record<string, string> = {}) {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) {
    throw new InvalidArgumentError('write a claim as KEY=VALUE, e.g. repository=acme/app');
  }
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

function collectList(value: string, previous: string[] = []) {
  return [...previous, value];
}
