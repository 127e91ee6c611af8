/**
 * Pipelined messages are decided in order (issue #13): while a policy applies, a statement
 * whose reading depends on the lexing settings waits until the server answered everything
 * before it, and nothing the client sent after it overtakes it.
 */
import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  encodeBackend,
  encodeFrontend,
  type Frame,
  type FrontendMessage,
  MessageReader,
} from '../../../shared/postgres/codec.ts';
import { loadSqlParser } from '../../policy/sqlParse.ts';
import {
  type Decisions,
  dependsOnLexingSettings,
  LexingSettingChanged,
  PostgresProtocolTracker,
} from './protocolTracker.ts';
import { compileSessionPolicy } from './sessionPolicy.ts';

const parser = await loadSqlParser();
const guarded = compileSessionPolicy(parser, {
  masking: [],
  guardrails: [{ kind: 'statement', name: 'no-drop', classes: ['drop'] }],
});
const open = compileSessionPolicy(parser, { masking: [], guardrails: [] });

function frame(bytes: Buffer, direction: 'frontend' | 'backend'): Frame {
  const reader = new MessageReader(direction);
  if (direction === 'frontend') reader.expectTyped();
  return reader.push(bytes)[0]!;
}

/** What the tracker sent on, decoded back to message types (and SQL for Query/Parse). */
class Sent implements Decisions {
  readonly items: string[] = [];
  forward(raw: Buffer): void {
    this.note(raw);
  }
  add(bytes: Buffer): void {
    this.note(bytes);
  }
  private note(bytes: Buffer): void {
    const reader = new MessageReader('frontend');
    reader.expectTyped();
    for (const f of reader.push(bytes)) {
      const message = reader.decode(f) as FrontendMessage & { sql?: string };
      this.items.push(message.sql === undefined ? message.type : `${message.type} ${message.sql}`);
    }
  }
}

function setup(policy = guarded) {
  const tracker = new PostgresProtocolTracker(policy, { blocked: () => {} });
  const toServer = new Sent();
  const client = (...messages: FrontendMessage[]) => {
    for (const m of messages) tracker.client(frame(encodeFrontend(m), 'frontend'), toServer);
  };
  const server = (...messages: BackendMessage[]) => {
    const toClient = { forward() {}, add() {} };
    for (const m of messages) {
      tracker.server(frame(encodeBackend(m), 'backend'), toClient);
      if (tracker.releaseDue) tracker.release(toServer);
    }
  };
  return { tracker, toServer, client, server };
}

const ready: BackendMessage = { type: 'ReadyForQuery', status: 'I' };
const done: BackendMessage = { type: 'CommandComplete', tag: 'SELECT 1' };
const backslash = "SELECT '\\' AS a, '; DROP TABLE t; --' AS b";

describe('statements that depend on the lexing settings wait for the answers before them', () => {
  it('holds a pipelined Query with a backslash, and everything after it, until ReadyForQuery', () => {
    const { toServer, client, server } = setup();
    client({ type: 'Query', sql: 'SELECT f()' }, { type: 'Query', sql: backslash });
    client({ type: 'Query', sql: 'SELECT 2' });
    expect(toServer.items).toEqual(['Query SELECT f()']);
    server(done);
    expect(toServer.items).toHaveLength(1);
    server(ready);
    expect(toServer.items).toEqual(['Query SELECT f()', `Query ${backslash}`, 'Query SELECT 2']);
  });

  it('never sends the held statement when the server turned standard_conforming_strings off', () => {
    const { toServer, client, server } = setup();
    client({ type: 'Query', sql: 'SELECT f()' }, { type: 'Query', sql: backslash });
    expect(() =>
      server(done, { type: 'ParameterStatus', name: 'standard_conforming_strings', value: 'off' }),
    ).toThrow(LexingSettingChanged);
    expect(toServer.items).toEqual(['Query SELECT f()']);
  });

  it('decides plain ASCII texts at once, so ordinary pipelines are not slowed down', () => {
    const { toServer, client } = setup();
    client(
      { type: 'Query', sql: 'SELECT f()' },
      { type: 'Query', sql: "SELECT 'plain' AS a" },
      { type: 'Parse', statement: '', sql: 'SELECT 1', parameterTypes: [] },
    );
    expect(toServer.items).toHaveLength(3);
  });

  it('asks the server to flush when the answers it waits for would stay in its buffer', () => {
    const { toServer, client, server } = setup();
    client(
      { type: 'Parse', statement: 'a', sql: 'SELECT 1', parameterTypes: [] },
      { type: 'Parse', statement: 'b', sql: "SELECT 'é'", parameterTypes: [] },
      { type: 'Sync' },
    );
    expect(toServer.items).toEqual(['Parse SELECT 1', 'Flush']);
    server({ type: 'ParseComplete' });
    expect(toServer.items).toEqual(['Parse SELECT 1', 'Flush', "Parse SELECT 'é'", 'Sync']);
  });

  it('refuses one that follows an Execute in the same batch (its effects show only at Sync)', () => {
    const blocked: string[] = [];
    const tracker = new PostgresProtocolTracker(guarded, {
      blocked: (verdict) => blocked.push(verdict.rule),
    });
    const toServer = new Sent();
    for (const m of [
      { type: 'Parse', statement: '', sql: 'SELECT f()', parameterTypes: [] },
      {
        type: 'Bind',
        portal: '',
        statement: '',
        parameterFormats: [],
        parameters: [],
        resultFormats: [],
      },
      { type: 'Execute', portal: '', maxRows: 0 },
      { type: 'Parse', statement: '', sql: backslash, parameterTypes: [] },
      {
        type: 'Bind',
        portal: '',
        statement: '',
        parameterFormats: [],
        parameters: [],
        resultFormats: [],
      },
      { type: 'Execute', portal: '', maxRows: 0 },
      { type: 'Sync' },
    ] satisfies FrontendMessage[]) {
      tracker.client(frame(encodeFrontend(m), 'frontend'), toServer);
    }
    expect(blocked).toEqual(['lexing_settings']);
    expect(toServer.items).toEqual(['Parse SELECT f()', 'Bind', 'Execute', 'Sync']);
  });

  it('does none of this without a policy', () => {
    const { toServer, client, server } = setup(open);
    client({ type: 'Query', sql: 'SELECT f()' }, { type: 'Query', sql: backslash });
    expect(toServer.items).toHaveLength(2);
    server(done, { type: 'ParameterStatus', name: 'standard_conforming_strings', value: 'off' });
  });

  it('knows which texts the settings can change', () => {
    expect(dependsOnLexingSettings("SELECT 'a'")).toBe(false);
    expect(dependsOnLexingSettings("SELECT 'a\\'")).toBe(true);
    expect(dependsOnLexingSettings("SELECT 'ü'")).toBe(true);
    expect(dependsOnLexingSettings('SELECT \uFFFD')).toBe(true);
  });
});
