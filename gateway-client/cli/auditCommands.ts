/**
 * `witness audit list|export|verify` (issue #14): read the gateway's audit log, save it as
 * JSON lines, and check a saved log offline.
 *
 * `verify` trusts only a key it is given: `--key FILE` (the gateway's recording public key,
 * PEM), or, without it, the recording key of the signed-in gateway, fetched from `/keys` over
 * the TLS connection pinned to that gateway's CA — and it says which one it used. It exits 0
 * when every entry is covered by a signed checkpoint, 1 when a seq fails (named, with why) or
 * when entries are chained but not signed.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type { AuditEntry } from '../../shared/api/apiSchemas.ts';
import {
  describeAuditVerification,
  verifyAuditExport,
} from '../../shared/recording/verifyAuditLog.ts';
import {
  InvalidRecordingKeyError,
  parseRecordingPublicKey,
  recordingKeyId,
} from '../../shared/recording/verifyRecording.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { formatTable } from './textTable.ts';

export interface AuditCommandsContext {
  stdout: Writable;
  stderr: Writable;
  /** Runs `action` with a client signed in to the current gateway. */
  withClient(action: (client: GatewayClient) => Promise<void>): Promise<void>;
  /** An error reported as `witness: <message>`, exit code 1. */
  failure(message: string): Error;
  /** A usage error, exit code 2. */
  usage(message: string): Error;
}

interface ListOptions {
  actor?: string;
  action?: string;
  since?: string;
  until?: string;
  search?: string;
  limit?: number;
  json?: boolean;
}

export function registerAuditCommands(program: Command, context: AuditCommandsContext): void {
  const print = (text: string): void => {
    context.stdout.write(`${text}\n`);
  };
  const audit = program
    .command('audit')
    .description(
      'The audit log: admin actions, access decisions, requests and approvals (admins and auditors).',
    );

  audit
    .command('list')
    .description('List audit entries, newest first.')
    .option('--actor <user>', 'only what this user (name or id) did')
    .option('--action <action>', 'an action, or its prefix: admin, session, request, grant')
    .option('--since <when>', 'an ISO time, or how long ago: 2h, 7d')
    .option('--until <when>', 'an ISO time, or how long ago')
    .option('--search <words>', 'words anywhere in the entry')
    .option('--limit <n>', 'at most this many (1–1000, default 100)', parseLimit)
    .option('--json', 'print the API response as JSON')
    .action((options: ListOptions) =>
      context.withClient(async (client) => {
        const page = await client.listAudit({
          ...(options.actor !== undefined && { actor: options.actor }),
          ...(options.action !== undefined && { action: options.action }),
          ...(options.since !== undefined && { since: options.since }),
          ...(options.until !== undefined && { until: options.until }),
          ...(options.search !== undefined && { q: options.search }),
          ...(options.limit !== undefined && { limit: options.limit }),
        });
        if (options.json) return print(JSON.stringify(page, null, 2));
        if (page.entries.length === 0) return print('No audit entries match.');
        print(
          formatTable(
            ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'OUTCOME', 'TARGET'],
            page.entries.map((entry) => [
              String(entry.seq),
              entry.time,
              entry.actor?.name ?? '(gateway)',
              entry.action,
              entry.outcome,
              describeTarget(entry),
            ]),
          ),
        );
        if (page.nextCursor !== null) {
          print(
            `(more: older entries follow seq ${page.nextCursor}; narrow with --since or --limit)`,
          );
        }
      }),
    );

  audit
    .command('export')
    .description('Write the whole audit log as JSON lines, signed to its last entry.')
    .option('--output <file>', 'write to this file instead of standard output')
    .action((options: { output?: string }) =>
      context.withClient(async (client) => {
        const download = await client.exportAudit();
        const sink = options.output
          ? createWriteStream(options.output, { flags: 'wx', mode: 0o600 })
          : context.stdout;
        try {
          await pipeline(download.body, sink, { end: options.output !== undefined });
        } catch (error) {
          throw context.failure(`could not write the export: ${messageOf(error)}`);
        }
        if (options.output) {
          context.stderr.write(
            `Wrote ${options.output}. Check it offline: witness audit verify ${options.output}\n`,
          );
        }
      }),
    );

  audit
    .command('verify')
    .description("Check an exported audit log offline against the gateway's recording key.")
    .argument('<file>', 'a JSON lines file from `witness audit export`')
    .option(
      '--key <pem-file>',
      "the gateway's recording public key (default: the signed-in gateway's, over its pinned CA)",
    )
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { key?: string; json?: boolean }) => {
      const { pem, source, earlier } = options.key
        ? { pem: await readKey(options.key, context), source: options.key, earlier: [] }
        : await gatewayKey(context);
      let result: Awaited<ReturnType<typeof verifyAuditExport>>;
      try {
        await fs.access(file);
        result = await verifyAuditExport(createReadStream(file), pem, earlier);
      } catch (error) {
        throw context.failure(`cannot read ${file}: ${messageOf(error)}`);
      }
      if (options.json) print(JSON.stringify(result, null, 2));
      else {
        print(`${file}: ${describeAuditVerification(result)}`);
        print(`key: ${recordingKeyId(pem)} (${source})`);
      }
      if (!result.ok)
        throw context.failure(`${file} failed verification at seq ${result.firstBadSeq}`);
      if (result.lastCheckpointSeq < result.lastSeq) {
        throw context.failure(
          `${file} is not verified past seq ${result.lastCheckpointSeq}: no signed checkpoint covers the entries after it`,
        );
      }
    });
}

/** The target, with the reason of a refusal where there is one (what a reviewer looks for). */
function describeTarget(entry: AuditEntry): string {
  const reason =
    entry.details.reason ?? (entry.details.error as { message?: unknown } | undefined)?.message;
  return typeof reason === 'string' && entry.outcome !== 'succeeded' && entry.outcome !== 'allowed'
    ? `${entry.target} — ${reason}`
    : entry.target;
}

async function readKey(file: string, context: AuditCommandsContext): Promise<string> {
  let pem: string;
  try {
    pem = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw context.failure(`cannot read the key file ${file}: ${messageOf(error)}`);
  }
  try {
    parseRecordingPublicKey(pem);
  } catch (error) {
    if (error instanceof InvalidRecordingKeyError)
      throw context.failure(`${file}: ${error.message}`);
    throw error;
  }
  return pem;
}

/**
 * The signed-in gateway's recording key and its earlier ones (after a rotation, the log's older
 * checkpoints name those), all read over the pinned CA.
 */
async function gatewayKey(
  context: AuditCommandsContext,
): Promise<{ pem: string; source: string; earlier: string[] }> {
  let found: { pem: string; source: string; earlier: string[] } | undefined;
  await context.withClient(async (client) => {
    const keys = await client.keys();
    found = {
      pem: keys.recordingKey.publicKeyPem,
      earlier: keys.earlierRecordingKeys.map((key) => key.publicKeyPem),
      source: `the recording key of ${client.baseUrl}, fetched over its pinned CA`,
    };
  });
  if (!found) throw context.failure('could not read the gateway’s key; pass --key FILE');
  return found;
}

function parseLimit(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new InvalidArgumentError('a whole number from 1 to 1000');
  }
  return value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
