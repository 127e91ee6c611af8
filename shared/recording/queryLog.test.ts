import { describe, expect, it } from 'vitest';
import { dataRowBody as dataRow } from './fixtures/recordingFixture.ts';
import { decodeDataRow, type QueryLogLine, queryLogLines, toQueryLog } from './queryLog.ts';
import {
  decodeFrame,
  type EventKind,
  encodeFrame,
  eventKinds,
  type RecordingEvent,
} from './recordingFormat.ts';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 600);
const TEXT = 0;
const BINARY = 1;
const INT4 = 23;
const TEXT_OID = 25;
const BYTEA = 17;

/** Builds a PostgreSQL recording's events as the proxy writes them (FORMAT.md §5, §5.2). */
class Session {
  readonly events: RecordingEvent[] = [];
  private seq = 0;
  time = T0;

  at(ms: number): this {
    this.time = T0 + ms;
    return this;
  }

  private push(kind: EventKind, data: Uint8Array, channel = 0): this {
    this.seq++;
    // Through the real encoding, as a reader of a stored recording would get them.
    this.events.push(
      decodeFrame(encodeFrame({ seq: this.seq, time: this.time, channel, kind, data })),
    );
    return this;
  }

  private json(kind: EventKind, value: unknown): this {
    return this.push(kind, Buffer.from(JSON.stringify(value)));
  }

  query(sql: string): this {
    return this.json(eventKinds.query, { protocol: 'simple', sql });
  }

  execute(
    sql: string,
    options: { statement?: string; portal?: string; params?: unknown[]; maxRows?: number } = {},
  ): this {
    return this.json(eventKinds.query, {
      protocol: 'extended',
      sql,
      statement: options.statement ?? '',
      portal: options.portal ?? '',
      params: options.params ?? [],
      paramFormats: [],
      ...(options.maxRows !== undefined ? { maxRows: options.maxRows } : {}),
    });
  }

  describe(columns: [name: string, typeOid: number, format?: number][]): this {
    return this.json(eventKinds.rowDescription, {
      columns: columns.map(([name, typeOid, format]) => ({
        name,
        tableOid: 0,
        columnAttr: 0,
        typeOid,
        typeSize: -1,
        typeModifier: -1,
        format: format ?? TEXT,
      })),
    });
  }

  row(...values: (string | Buffer | null)[]): this {
    return this.push(eventKinds.dataRow, dataRow(values));
  }

  complete(tag: string): this {
    return this.json(eventKinds.commandComplete, { tag });
  }

  emptyQuery(): this {
    return this.json(eventKinds.commandComplete, { empty: true });
  }

  error(code: string, message: string, extra: Record<string, string> = {}): this {
    return this.json(eventKinds.error, {
      fields: { S: 'ERROR', V: 'ERROR', C: code, M: message, ...extra },
    });
  }

  notice(message: string, code = '00000'): this {
    return this.json(eventKinds.notice, {
      fields: { S: 'NOTICE', V: 'NOTICE', C: code, M: message },
    });
  }

  copy(data: string | Buffer, channel = 0): this {
    return this.push(
      eventKinds.copyData,
      typeof data === 'string' ? Buffer.from(data) : data,
      channel,
    );
  }

  blocked(sql: string, rule: string, reason: string): this {
    return this.json(eventKinds.blocked, { sql, rule, reason });
  }

  meta(value: Record<string, unknown>): this {
    return this.json(eventKinds.meta, value);
  }
}

async function log(events: Iterable<RecordingEvent> | AsyncIterable<RecordingEvent>) {
  const lines: QueryLogLine[] = [];
  for await (const text of toQueryLog(events)) {
    expect(text.endsWith('\n')).toBe(true);
    expect(text.slice(0, -1)).not.toContain('\n');
    lines.push(JSON.parse(text) as QueryLogLine);
  }
  return lines;
}

describe('toQueryLog', () => {
  it('writes one line per simple query with columns, decoded rows, status and timing', async () => {
    const s = new Session()
      .meta({ type: 'session-start', user: 'alice' })
      .query('select id, name, note from t')
      .at(3)
      .describe([
        ['id', INT4],
        ['name', TEXT_OID],
        ['note', TEXT_OID],
      ])
      .row('1', 'zoë ✓', null)
      .row('2', '', 'x')
      .at(7)
      .complete('SELECT 2');
    expect(await log(s.events)).toEqual([
      {
        time: '2025-01-02T03:04:05.600Z',
        protocol: 'simple',
        sql: 'select id, name, note from t',
        statementIndex: 0,
        columns: [
          { name: 'id', typeOid: INT4 },
          { name: 'name', typeOid: TEXT_OID },
          { name: 'note', typeOid: TEXT_OID },
        ],
        rows: [
          ['1', 'zoë ✓', null],
          ['2', '', 'x'],
        ],
        rowCount: 2,
        status: 'SELECT 2',
        notices: [],
        durationMs: 7,
      },
    ]);
  });

  it('splits a multi-statement simple query into one line per result, with the same sql', async () => {
    const sql = 'select 1 as a; insert into t values (1); select 2 as b';
    const s = new Session()
      .query(sql)
      .at(1)
      .describe([['a', INT4]])
      .row('1')
      .at(2)
      .complete('SELECT 1')
      .at(10)
      .complete('INSERT 0 1')
      .at(11)
      .describe([['b', INT4]])
      .row('2')
      .at(15)
      .complete('SELECT 1')
      .at(100)
      .query('select 3');
    const lines = await log(s.events);
    expect(lines).toHaveLength(4);
    expect(lines.slice(0, 3).map((l) => [l.sql, l.statementIndex, l.status, l.durationMs])).toEqual(
      [
        [sql, 0, 'SELECT 1', 2],
        [sql, 1, 'INSERT 0 1', 8],
        [sql, 2, 'SELECT 1', 5],
      ],
    );
    expect(lines[1]).toMatchObject({ columns: [], rows: [], rowCount: 0 });
    expect(lines[2]).toMatchObject({ columns: [{ name: 'b' }], rows: [['2']] });
    expect(new Set(lines.slice(0, 3).map((l) => l.time)).size).toBe(1);
    // A query the recording has no answer for (the session ended).
    expect(lines[3]).toMatchObject({ sql: 'select 3', status: 'incomplete', rows: [] });
  });

  it('records extended-protocol statements with their parameters and binary columns', async () => {
    const s = new Session()
      .execute('select $1::int + 1 as n, $2::bytea as b', {
        statement: 's1',
        params: ['41', { base64: 'AAE=' }, null],
      })
      .describe([
        ['n', INT4, BINARY],
        ['b', BYTEA, TEXT],
      ])
      .row(Buffer.from([0, 0, 0, 42]), '\\x0001')
      .at(2)
      .complete('SELECT 1');
    expect(await log(s.events)).toEqual([
      expect.objectContaining({
        protocol: 'extended',
        sql: 'select $1::int + 1 as n, $2::bytea as b',
        statement: 's1',
        params: ['41', { base64: 'AAE=' }, null],
        columns: [
          { name: 'n', typeOid: INT4 },
          { name: 'b', typeOid: BYTEA },
        ],
        rows: [[{ base64: 'AAAAKg==' }, '\\x0001']],
        status: 'SELECT 1',
        durationMs: 2,
      }),
    ]);
  });

  it('reuses the description of a named statement executed without a new Describe', async () => {
    const s = new Session()
      .execute('select $1::int', { statement: 'p', params: ['7'] })
      .describe([['int4', INT4, BINARY]])
      .row(Buffer.from([0, 0, 0, 7]))
      .complete('SELECT 1')
      .execute('select $1::int', { statement: 'p', params: ['8'] })
      .row(Buffer.from([0, 0, 0, 8]))
      .complete('SELECT 1')
      // Unknown format and no description at all: text if it is UTF-8, else base64.
      .execute('select something', { statement: 'never-described' })
      .row('plain', Buffer.from([0xff, 0xfe]))
      .complete('SELECT 1');
    const lines = await log(s.events);
    expect(lines[1]).toMatchObject({
      params: ['8'],
      columns: [{ name: 'int4', typeOid: INT4 }],
      rows: [[{ base64: 'AAAACA==' }]],
    });
    expect(lines[2]).toMatchObject({ columns: [], rows: [['plain', { base64: '//4=' }]] });
  });

  it('keeps the rows before an error, and the error code and message', async () => {
    const s = new Session()
      .query('begin')
      .complete('BEGIN')
      .at(5)
      .query('select 1/(3-n) from generate_series(1,5) n')
      .describe([['?column?', INT4]])
      .row('0')
      .row('1')
      .at(9)
      .error('22012', 'division by zero', { H: 'do not', P: '8' })
      .at(20)
      .query('select 1')
      .error(
        '25P02',
        'current transaction is aborted, commands ignored until end of transaction block',
      )
      .query('rollback')
      .complete('ROLLBACK');
    const lines = await log(s.events);
    expect(lines.map((l) => l.status)).toEqual(['BEGIN', 'error', 'error', 'ROLLBACK']);
    expect(lines[1]).toMatchObject({
      rows: [['0'], ['1']],
      rowCount: 2,
      error: { code: '22012', message: 'division by zero', hint: 'do not', position: '8' },
      durationMs: 4,
    });
    expect(lines[2]?.error?.code).toBe('25P02');
  });

  it('ends a multi-statement query at its error: the statements after it never ran', async () => {
    const s = new Session()
      .query('select 1; select x; select 3')
      .describe([['?column?', INT4]])
      .row('1')
      .complete('SELECT 1')
      .error('42703', 'column "x" does not exist')
      .query('select 4')
      .emptyQuery();
    const lines = await log(s.events);
    expect(lines.map((l) => [l.statementIndex, l.status])).toEqual([
      [0, 'SELECT 1'],
      [1, 'error'],
      [0, 'empty'],
    ]);
  });

  it('attaches notices to their result, and gives notices outside any query a line', async () => {
    const s = new Session()
      .notice('password expires soon', '01000')
      .at(1)
      .query("do $$ begin raise notice 'hello'; end $$")
      .notice('hello')
      .complete('DO');
    const lines = await log(s.events);
    expect(lines).toEqual([
      expect.objectContaining({
        sql: null,
        protocol: null,
        status: 'notice',
        notices: [{ severity: 'NOTICE', code: '01000', message: 'password expires soon' }],
      }),
      expect.objectContaining({
        sql: "do $$ begin raise notice 'hello'; end $$",
        status: 'DO',
        notices: [{ severity: 'NOTICE', code: '00000', message: 'hello' }],
      }),
    ]);
  });

  it('shows COPY data like rows: a line per row as the client received it (#13)', async () => {
    const s = new Session()
      .query('COPY people TO STDOUT (FORMAT csv)')
      .copy('1,****\n2,"x, ****"\n')
      .copy('3,\n')
      .complete('COPY 3')
      .query('COPY people FROM STDIN')
      .copy('7\tnew\n\\.\n', 1)
      .complete('COPY 1')
      .query('COPY t TO STDOUT (FORMAT binary)')
      .copy(Buffer.from([0x50, 0x47, 0xff, 0x00]))
      .complete('COPY 0');
    const lines = await log(s.events);
    expect(lines).toEqual([
      expect.objectContaining({
        sql: 'COPY people TO STDOUT (FORMAT csv)',
        rows: [['1,****'], ['2,"x, ****"'], ['3,']],
        rowCount: 3,
        status: 'COPY 3',
      }),
      expect.objectContaining({ rows: [['7\tnew']], rowCount: 1, status: 'COPY 1' }),
      expect.objectContaining({
        rows: [[{ base64: Buffer.from([0x50, 0x47, 0xff, 0x00]).toString('base64') }]],
        rowCount: 1,
      }),
    ]);
  });

  it('logs blocked statements, whether or not the query was recorded before the block', async () => {
    const s = new Session()
      .query('select 1; DROP TABLE orders')
      .blocked('DROP TABLE orders', 'no-drop', 'DROP is not allowed on this resource')
      .error('42501', 'blocked by guardrail no-drop')
      .blocked('truncate t', 'no-truncate', 'TRUNCATE is not allowed')
      .error('42501', 'blocked by guardrail no-truncate')
      .query('select 2')
      .complete('SELECT 1');
    const lines = await log(s.events);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      sql: 'select 1; DROP TABLE orders',
      protocol: 'simple',
      status: 'blocked',
      blocked: { rule: 'no-drop', reason: 'DROP is not allowed on this resource' },
      error: { code: '42501' },
    });
    expect(lines[1]).toMatchObject({
      sql: 'truncate t',
      status: 'blocked',
      blocked: { rule: 'no-truncate' },
      error: { code: '42501' },
    });
    expect(lines[2]).toMatchObject({ sql: 'select 2', status: 'SELECT 1' });
  });

  it('keeps a blocked message in line among pipelined queries', async () => {
    const s = new Session()
      .execute('select 1')
      .blocked('delete from orders', 'no-unqualified-delete', 'DELETE without WHERE')
      .execute('select 3')
      .describe([['?column?', INT4]])
      .row('1')
      .complete('SELECT 1')
      .error('42501', 'blocked by guardrail no-unqualified-delete')
      // A block whose error the recording lacks: the next results are not its.
      .blocked('drop table t', 'no-drop', 'DROP')
      .execute('select 4')
      .describe([['?column?', INT4]])
      .row('4')
      .complete('SELECT 1');
    const lines = await log(s.events);
    expect(lines.map((l) => [l.sql, l.status, l.rows])).toEqual([
      ['select 1', 'SELECT 1', [['1']]],
      ['delete from orders', 'blocked', []],
      // The batch's error: the server skipped what followed it up to the Sync.
      ['select 3', 'incomplete', []],
      ['drop table t', 'blocked', []],
      ['select 4', 'SELECT 1', [['4']]],
    ]);
    expect(lines[1]?.error?.code).toBe('42501');
    expect(lines[3]?.error).toBeUndefined();
  });

  it('writes results that came with no query as a line without sql', async () => {
    const s = new Session()
      .error('57P01', 'terminating connection due to administrator command')
      .row('stray')
      .query('select 1')
      .complete('SELECT 1');
    const lines = await log(s.events);
    expect(lines.map((l) => [l.sql, l.status, l.rows])).toEqual([
      [null, 'error', []],
      [null, 'incomplete', [['stray']]],
      ['select 1', 'SELECT 1', []],
    ]);
  });

  it('caps the rows kept per line and still counts them all (1,000,000 rows)', async () => {
    const row = dataRow(['12345', 'some text value']);
    function* events(): Generator<RecordingEvent> {
      let seq = 0;
      const event = (kind: EventKind, data: Uint8Array): RecordingEvent => ({
        seq: ++seq,
        time: T0 + seq,
        channel: 0,
        kind,
        data,
      });
      yield event(eventKinds.query, Buffer.from('{"protocol":"simple","sql":"select * from big"}'));
      yield event(
        eventKinds.rowDescription,
        Buffer.from(
          JSON.stringify({
            columns: [
              { name: 'a', typeOid: INT4, format: 0 },
              { name: 'b', typeOid: TEXT_OID, format: 0 },
            ],
          }),
        ),
      );
      for (let i = 0; i < 1_000_000; i++) yield event(eventKinds.dataRow, row);
      yield event(eventKinds.commandComplete, Buffer.from('{"tag":"SELECT 1000000"}'));
    }
    const texts: string[] = [];
    for await (const text of toQueryLog(events())) texts.push(text);
    expect(texts).toHaveLength(1);
    expect(texts[0]!.length).toBeLessThan(400_000);
    const line = JSON.parse(texts[0]!) as QueryLogLine;
    expect(line.rows).toHaveLength(10_000);
    expect(line).toMatchObject({
      rowCount: 1_000_000,
      rowsTruncated: true,
      status: 'SELECT 1000000',
    });
  });

  it('caps by bytes as well as by rows', async () => {
    const s = new Session().query('select big').describe([['b', TEXT_OID]]);
    for (let i = 0; i < 5; i++) s.row('x'.repeat(1000));
    s.complete('SELECT 5')
      .query('select small')
      .describe([['b', TEXT_OID]]);
    for (let i = 0; i < 5; i++) s.row('y');
    s.complete('SELECT 5');
    const lines: QueryLogLine[] = [];
    for await (const line of queryLogLines(s.events, { maxRowBytes: 2500, maxRows: 3 })) {
      lines.push(line);
    }
    expect(lines[0]).toMatchObject({ rowCount: 5, rowsTruncated: true });
    expect(lines[0]?.rows).toHaveLength(2);
    expect(lines[1]).toMatchObject({ rowCount: 5, rowsTruncated: true });
    expect(lines[1]?.rows).toHaveLength(3);
  });

  it('answers pipelined Executes in order, and ends the ones skipped after an error', async () => {
    const s = new Session()
      .execute('insert into t values ($1)', { params: ['1'] })
      .execute('insert into t values ($1)', { params: ['2'] })
      .execute('select count(*) from t')
      .complete('INSERT 0 1')
      .complete('INSERT 0 1')
      .describe([['count', 20]])
      .row('2')
      .complete('SELECT 1')
      // A batch that fails on its first statement: the server skips the rest until Sync.
      .execute('insert into t values ($1)', { params: ['x'] })
      .execute('insert into t values ($1)', { params: ['3'] })
      .error('22P02', 'invalid input syntax for type integer: "x"')
      .execute('select 1')
      .describe([['?column?', INT4]])
      .row('1')
      .complete('SELECT 1');
    const lines = await log(s.events);
    expect(lines.map((l) => [l.params, l.status])).toEqual([
      [['1'], 'INSERT 0 1'],
      [['2'], 'INSERT 0 1'],
      [[], 'SELECT 1'],
      [['x'], 'error'],
      [['3'], 'incomplete'],
      [[], 'SELECT 1'],
    ]);
    expect(lines[2]?.rows).toEqual([['2']]);
    expect(lines[5]).toMatchObject({ sql: 'select 1', rows: [['1']] });
  });

  it('ends an Execute that stopped at its row limit when its portal is executed again', async () => {
    const s = new Session()
      .execute('select n from generate_series(1,3) n', { portal: 'C_1', statement: 'S_1' })
      .describe([['n', INT4]])
      .row('1')
      .row('2')
      .execute('select n from generate_series(1,3) n', { portal: 'C_1', statement: 'S_1' })
      .row('3')
      .complete('SELECT 1');
    const lines = await log(s.events);
    expect(lines.map((l) => [l.status, l.rows])).toEqual([
      ['suspended', [['1'], ['2']]],
      ['SELECT 1', [['3']]],
    ]);
  });

  it('writes a result cut short by the end of the recording as incomplete', async () => {
    const s = new Session()
      .query('select pg_sleep(100)')
      .describe([['pg_sleep', 2278]])
      .at(50)
      .row('');
    expect(await log(s.events)).toEqual([
      expect.objectContaining({ status: 'incomplete', rows: [['']], durationMs: 50 }),
    ]);
  });

  it('writes nothing for a recording without queries, and reads async iterables', async () => {
    const ssh: RecordingEvent[] = [
      { seq: 1, time: T0, channel: 1, kind: eventKinds.output, data: Buffer.from('hi') },
      { seq: 2, time: T0, channel: 1, kind: eventKinds.exit, data: Buffer.from('{"code":0}') },
    ];
    expect(await log(ssh)).toEqual([]);
    const s = new Session().query('select 1').complete('SELECT 1');
    async function* slowly() {
      for (const event of s.events) {
        await new Promise((resolve) => setImmediate(resolve));
        yield event;
      }
    }
    expect(await log(slowly())).toEqual([expect.objectContaining({ status: 'SELECT 1' })]);
  });
});

describe('decodeDataRow', () => {
  it('decodes text, binary and NULL by column format', () => {
    const body = dataRow(['a', Buffer.from([1, 2]), null]);
    expect(decodeDataRow(body, [{ format: TEXT }, { format: BINARY }, { format: TEXT }])).toEqual([
      'a',
      { base64: 'AQI=' },
      null,
    ]);
    expect(decodeDataRow(dataRow([]), [])).toEqual([]);
  });

  it('turns a body that does not parse into one base64 value instead of throwing', () => {
    const good = dataRow(['abc']);
    for (const bad of [
      good.subarray(0, 1), // no count
      good.subarray(0, good.length - 1), // value cut short
      Buffer.concat([good, Buffer.from([0])]), // trailing byte
      Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xfe]), // length -2
      Buffer.from([0xff, 0xff]), // count -1
    ]) {
      expect(decodeDataRow(bad, null)).toEqual([{ base64: Buffer.from(bad).toString('base64') }]);
    }
  });
});
