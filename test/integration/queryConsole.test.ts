/**
 * The desktop's query console service (issue #15) against a real gateway and PostgreSQL 15:
 * a console is a recorded gateway session logged in with a single-use ticket over TLS pinned to
 * the gateway CA; rows stream in batches under back-pressure; several results per run; errors
 * carry their position (offset into the editor); notices and the transaction state come out;
 * a CancelRequest through the gateway stops `pg_sleep(30)` within a second; a guardrail's
 * refusal names its rule; a column rule's mask is reported per column.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type {
  CallerContext,
  ConsoleEvent,
  EventName,
  EventPayload,
} from '../../main/ipc/contract.ts';
import { QueryConsoleService } from '../../main/services/consoles/queryConsoleService.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  type PostgresResource,
  type PostgresTestBed,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';
import { waitFor } from '../harness/waitFor.ts';

interface Caller extends CallerContext {
  events: ConsoleEvent[];
}

function caller(clientId: string): Caller {
  const events: ConsoleEvent[] = [];
  return {
    clientId,
    events,
    emit: <E extends EventName>(name: E, payload: EventPayload<E>) => {
      if (name === 'console.event') events.push((payload as EventPayload<'console.event'>).event);
    },
  };
}

async function direct(resource: PostgresResource, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: resource.directUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describeWithPostgres('Query console through the gateway (real PostgreSQL 15)', () => {
  let bed: PostgresTestBed;
  let service: QueryConsoleService;
  let guarded: PostgresResource;
  const byName = new Map<string, string>();

  beforeAll(async () => {
    bed = await startPostgresTestBed();
    guarded = await bed.addResource('db-console-policy', {
      policy: {
        masking: [{ name: 'ssn', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' }],
        guardrails: [{ kind: 'statement', name: 'no-drop', classes: ['drop'] }],
      },
    });
    await direct(
      bed.resource,
      `create table people (id int primary key, name text, ssn text, doc jsonb);
       insert into people values (1, 'Alice', '123-45-6789', '{"a":1}'), (2, '', null, null);`,
    );
    await direct(
      guarded,
      `create table people (id int, ssn text); insert into people values (1, '123-45-6789');`,
    );
    byName.set(bed.resource.name, bed.resource.id);
    byName.set(guarded.name, guarded.id);
    service = new QueryConsoleService({
      sessions: {
        startSession: async (resourceId) => {
          const name = [...byName].find(([, id]) => id === resourceId)![0];
          const session = await bed.newSession(name);
          return {
            ...session,
            host: bed.postgres.address.host,
            port: bed.postgres.address.port,
            database: 'ignored-by-the-gateway',
            caPem: bed.caPem,
            resourceName: name,
          };
        },
      },
      pauseRows: 2_000,
      resumeRows: 500,
    });
  }, 120_000);

  afterAll(async () => {
    await service?.dispose();
    await bed?.close();
  });

  async function runToEnd(who: Caller, consoleId: string, sql: string, offset = 0) {
    const { runId } = service.run(who.clientId, consoleId, sql, offset);
    await waitFor(
      () => who.events.some((e) => e.kind === 'run-end' && e.runId === runId),
      `the end of ${sql}`,
      30_000,
    );
    return who.events.filter((e) => 'runId' in e && e.runId === runId);
  }

  it('runs several statements, streams their rows as text, and records the session', async () => {
    const who = caller('window-1');
    const opened = await service.open(who, { resourceId: bed.resource.id });
    const events = await runToEnd(
      who,
      opened.consoleId,
      `select id, name, ssn, doc from people order by id; select now()::timestamptz(0) is not null as ok, '\\xdead'::bytea as b`,
    );
    const starts = events.filter((e) => e.kind === 'result-start');
    expect(starts.map((e) => e.columns.map((c) => c.name))).toEqual([
      ['id', 'name', 'ssn', 'doc'],
      ['ok', 'b'],
    ]);
    const rows = events.flatMap((e) => (e.kind === 'rows' && e.resultIndex === 0 ? e.rows : []));
    // NULL stays null, the empty string stays '' — the server's text, untouched.
    expect(rows).toEqual([
      ['1', 'Alice', '123-45-6789', '{"a": 1}'],
      ['2', '', null, null],
    ]);
    const second = events.flatMap((e) => (e.kind === 'rows' && e.resultIndex === 1 ? e.rows : []));
    expect(second).toEqual([['t', '\\xdead']]);
    const ends = events.filter((e) => e.kind === 'result-end');
    expect(ends.map((e) => [e.tag, e.rowCount])).toEqual([
      ['SELECT 2', 2],
      ['SELECT 1', 1],
    ]);
    const end = events.at(-1);
    expect(end).toMatchObject({ kind: 'run-end', transaction: 'idle', cancelled: false });

    await service.close(who.clientId, opened.consoleId);
    const recorded = await bed.verifiedRecording(opened.sessionId);
    // The recording holds the statement as sent and the rows as returned.
    const text = (kind: string) =>
      recorded
        .filter((e) => e.kind === kind)
        .map((e) => Buffer.from(e.data).toString('utf8'))
        .join('\n');
    expect(text('q')).toContain('select id, name, ssn, doc from people order by id');
    expect(text('D')).toContain('123-45-6789');
  });

  it('reports the error position offset into the editor, notices and the transaction state', async () => {
    const who = caller('window-2');
    const { consoleId } = await service.open(who, { resourceId: bed.resource.id });
    let events = await runToEnd(who, consoleId, 'begin; select 1');
    expect(events.at(-1)).toMatchObject({ kind: 'run-end', transaction: 'in-transaction' });
    // As if the selection started at character 100 of the editor.
    events = await runToEnd(who, consoleId, 'select nosuchcolumn from people', 100);
    const error = events.find((e) => e.kind === 'error');
    expect(error?.kind === 'error' && error.error).toMatchObject({
      code: '42703',
      position: 100 + 'select '.length + 1,
      blockedBy: null,
    });
    expect(events.at(-1)).toMatchObject({ kind: 'run-end', transaction: 'failed' });
    events = await runToEnd(
      who,
      consoleId,
      `rollback; do $$ begin raise notice 'hello from plpgsql'; end $$`,
    );
    expect(events.at(-1)).toMatchObject({ kind: 'run-end', transaction: 'idle' });
    expect(who.events).toContainEqual(
      expect.objectContaining({
        kind: 'notice',
        message: 'hello from plpgsql',
        severity: 'NOTICE',
      }),
    );
    const catalog = await service.catalog(who.clientId, consoleId);
    expect(catalog.schemas.find((s) => s.name === 'public')?.tables).toContainEqual({
      name: 'people',
      columns: ['id', 'name', 'ssn', 'doc'],
    });
    await service.close(who.clientId, consoleId);
  });

  it('cancels pg_sleep(30) through the gateway within a second', async () => {
    const who = caller('window-3');
    const { consoleId } = await service.open(who, { resourceId: bed.resource.id });
    const { runId } = service.run(who.clientId, consoleId, 'select pg_sleep(30)');
    // Let the query reach the database first.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const asked = performance.now();
    await service.cancel(who.clientId, consoleId);
    await waitFor(
      () => who.events.some((e) => e.kind === 'run-end' && e.runId === runId),
      'the cancelled run to end',
      10_000,
    );
    const tookMs = performance.now() - asked;
    expect(tookMs).toBeLessThan(1_000);
    const error = who.events.find((e) => e.kind === 'error' && e.runId === runId);
    expect(error?.kind === 'error' && error.error.code).toBe('57014');
    expect(who.events.find((e) => e.kind === 'run-end')).toMatchObject({ cancelled: true });
    await service.close(who.clientId, consoleId);
  });

  it('streams 100,000 rows under back-pressure: nothing lost while the renderer lags', async () => {
    const who = caller('window-4');
    const { consoleId } = await service.open(who, { resourceId: bed.resource.id });
    const { runId } = service.run(
      who.clientId,
      consoleId,
      'select g, md5(g::text) from generate_series(1, 100000) g',
    );
    let acked = 0;
    let maxUnacked = 0;
    let seen = 0;
    await waitFor(
      () => {
        const received = who.events
          .filter((e) => e.kind === 'rows' && e.runId === runId)
          .reduce((n, e) => n + (e.kind === 'rows' ? e.rows.length : 0), 0);
        maxUnacked = Math.max(maxUnacked, received - acked);
        // A slow grid: acks lag behind what arrived.
        if (received > acked) {
          service.ack(who.clientId, consoleId, received - acked);
          acked = received;
        }
        seen = received;
        return who.events.some((e) => e.kind === 'run-end' && e.runId === runId);
      },
      'all 100,000 rows',
      60_000,
    );
    expect(seen).toBe(100_000);
    const rows = who.events.flatMap((e) => (e.kind === 'rows' && e.runId === runId ? e.rows : []));
    expect(rows[99_999]).toEqual(['100000', createHash('md5').update('100000').digest('hex')]);
    // Paused at 2,000 unacked: whatever was in flight (a socket's worth) may still arrive.
    expect(maxUnacked).toBeLessThan(30_000);
    await service.close(who.clientId, consoleId);
  });

  it('names the guardrail that blocked a statement and marks masked columns', async () => {
    const who = caller('window-5');
    const { consoleId } = await service.open(who, { resourceId: guarded.id });
    let events = await runToEnd(who, consoleId, 'drop table people');
    const error = events.find((e) => e.kind === 'error');
    expect(error?.kind === 'error' && error.error.blockedBy?.rule).toBe('no-drop');
    events = await runToEnd(who, consoleId, 'select id, ssn from people');
    const start = events.find((e) => e.kind === 'result-start');
    expect(start?.kind === 'result-start' && start.columns.map((c) => c.masked)).toEqual([
      false,
      true,
    ]);
    const rows = events.flatMap((e) => (e.kind === 'rows' ? e.rows : []));
    expect(rows[0]?.[1]).not.toBe('123-45-6789');
    // The next result without a masked column is not marked.
    events = await runToEnd(who, consoleId, 'select 1 as one');
    const plain = events.find((e) => e.kind === 'result-start');
    expect(plain?.kind === 'result-start' && plain.columns[0]?.masked).toBe(false);
    await service.close(who.clientId, consoleId);
  });

  it('refuses another window’s console id as unknown', async () => {
    const owner = caller('window-6');
    const { consoleId } = await service.open(owner, { resourceId: bed.resource.id });
    expect(() => service.run('window-7', consoleId, 'select 1')).toThrow(/no longer open/);
    await service.close(owner.clientId, consoleId);
  });
});
