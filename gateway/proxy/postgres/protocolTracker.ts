/**
 * The PostgreSQL session's protocol state, as a pure module: messages in, decisions out. The
 * session (postgresSession.ts) feeds it every message each side sends after the login and
 * does what it decides; it does no I/O and knows no recorder, so it can be fuzzed alone.
 *
 * Decisions, per message:
 * - **forward** it as received (almost everything);
 * - **mask**: forward a re-encoded DataRow in its place (the session's masking rules), and
 *   likewise COPY data rows (copyOutMasking.ts), and notices, errors, notifications,
 *   parameter values and column names the value rules change (issue #13);
 * - **inject**: send bytes of the gateway's own — a Describe before an Execute whose columns
 *   masking must know, a Parse/Describe/Close/Sync before a Query with a COPY … TO whose
 *   columns masking must know, the ErrorResponse (and ReadyForQuery) that answers a refused
 *   statement, exactly where the server's answer would have been;
 * - **refuse**: drop a statement a guardrail blocks (`blocked`), or a COPY masking cannot
 *   cover, and with it the rest of its extended-protocol batch up to Sync; the server's
 *   answer to an injected Describe is dropped too (the client did not ask for it); a COPY
 *   found unmaskable only when its data comes is dropped and answered by an ErrorResponse;
 * - **hold**: while a policy applies, a Query or Parse whose text the lexing settings could
 *   read differently (a backslash or a non-ASCII character) waits, with everything the client
 *   sends after it, until the server has answered every statement before it (issue #13). A
 *   statement before it might have changed standard_conforming_strings out of sight (inside a
 *   function); the server reports that change (ParameterStatus) before its ReadyForQuery, so
 *   once everything before is answered the setting is known. Texts of plain ASCII without a
 *   backslash read the same under every such setting and are decided at once, so pipelines of
 *   ordinary statements (pgbench, drivers) are not slowed down. The session releases held
 *   messages (`releaseDue`, `release`) on the target's side;
 * - **throw** when a side breaks the protocol: `ProtocolError` / `OutOfOrder` from the codec
 *   or the response queue, `ClientEncodingChanged` when the server reports a non-UTF8
 *   client_encoding, `LexingSettingChanged` when it reports standard_conforming_strings off
 *   while a policy applies.
 *
 * What the server owes the client is a FIFO (responseQueue.ts). Prepared statements and
 * portals are tracked only when the session masks results: they exist to find a DataRow's
 * columns, so a session without masking rules keeps no map of them (every message is still
 * decoded far enough to refuse a malformed one).
 */

import { remember } from '../../../shared/postgres/boundedRemember.ts';
import {
  type Bind,
  type CopyOutResponse,
  decodeBackend,
  decodeDataRow,
  decodeFrontend,
  encodeBackend,
  encodeDataRow,
  encodeFrontend,
  type FieldDescription,
  type Frame,
  type NoticeFieldMap,
  type NotificationResponse,
  ProtocolError,
  type TransactionStatus,
} from '../../../shared/postgres/codec.ts';
import {
  formatMaskedColumns,
  MASKED_COLUMNS_PARAMETER,
} from '../../../shared/postgres/maskedColumnsParameter.ts';
import { copyOutStatements } from '../../policy/copyStatement.ts';
import type { MaskPlan, ResultMasker } from '../../policy/masking.ts';
import {
  type CopyOut,
  copyRefusalReason,
  type PendingCopy,
  startCopyOut,
} from './copyOutMasking.ts';
import { errorResponse, printable, SQLSTATE } from './errorResponses.ts';
import {
  type Expected,
  type Portal,
  type PreparedStatement,
  ResponseQueue,
} from './responseQueue.ts';
import {
  LEXING_SETTINGS_RULE,
  type SessionPolicy,
  type StatementVerdict,
} from './sessionPolicy.ts';

/** Where the tracker's decisions for one batch of messages go (a RelayBatch does). */
export interface Decisions {
  /** Pass the message on as received. */
  forward(raw: Buffer): void;
  /** Send bytes the gateway made (masked row, injected Describe, an answer of its own). */
  add(bytes: Buffer): void;
}

export type BlockedStatement = Extract<StatementVerdict, { blocked: true }>;

export interface TrackerHooks {
  /**
   * A statement was refused; its answer is queued (see `answersDue`). `query` is the text of
   * the message refused (a Query's may hold several statements; a Parse's is one).
   */
  blocked(verdict: BlockedStatement, query: string, out: Decisions): void;
  /** Rows whose columns are unknown are masked to NULL (worth a warning). */
  unknownColumns?(portal: string): void;
}

/** A server message that does not fit what the client asked. */
export class OutOfOrder extends Error {}

export class ClientEncodingChanged extends Error {
  constructor(readonly encoding: string) {
    super(`client_encoding changed to ${encoding}`);
  }
}

/** The server reports a lexing setting the policy's parse does not read SQL with. */
export class LexingSettingChanged extends Error {
  constructor(
    readonly setting: string,
    readonly value: string,
  ) {
    super(`${setting} changed to ${value}`);
  }
}

/**
 * Whether the lexing settings could make the server read this text differently from the
 * gateway's parse: standard_conforming_strings and backslash_quote only change what a
 * backslash means, and a client_encoding other than UTF-8 only what bytes above 0x7F mean
 * (a text the codec could not decode as UTF-8 holds U+FFFD, also above 0x7F).
 */
export function dependsOnLexingSettings(sql: string): boolean {
  for (let i = 0; i < sql.length; i++) {
    const code = sql.charCodeAt(i);
    if (code === 0x5c || code > 0x7f) return true;
  }
  return false;
}

/**
 * Tells the client which columns of the next RowDescription a column or type rule masks
 * (shared/postgres/maskedColumnsParameter.ts; the desktop's query console marks them). Sent
 * ahead of a simple query's RowDescription when a rule replaces or NULLs a column; value rules
 * (which change only the values that match) are not reported.
 */
function reportMaskedColumns(plan: MaskPlan, out: Decisions): void {
  const masked: number[] = [];
  plan.columns.forEach((column, index) => {
    if (column.kind === 'replace' || column.kind === 'null') masked.push(index);
  });
  if (masked.length === 0) return;
  out.add(
    encodeBackend({
      type: 'ParameterStatus',
      name: MASKED_COLUMNS_PARAMETER,
      value: formatMaskedColumns(masked),
    }),
  );
}

/** How the rows of a result are masked: a plan, nothing to do, or (columns unknown) all NULL. */
type RowMasking = MaskPlan | 'none' | 'unknown';

/**
 * Prepared statements and portals remembered per session. Past these the oldest are forgotten:
 * their rows are still masked (the gateway then asks for the columns itself).
 */
const MAX_STATEMENTS = 10_000;
const MAX_PORTALS = 1_000;

// Entries without data are shared: a pgbench transaction should not allocate for bookkeeping.
const QUERY: Expected = { kind: 'query' };
const PARSE: Expected = { kind: 'parse' };
const BIND: Expected = { kind: 'bind' };
const CLOSE: Expected = { kind: 'close' };
const SYNC: Expected = { kind: 'sync' };
const EXECUTE_UNTRACKED: Expected = { kind: 'execute', portal: undefined };
const DESCRIBE_UNTRACKED: Expected = { kind: 'describe', target: 'portal' };
const FLUSH = encodeFrontend({ type: 'Flush' });
/**
 * Bytes a client may pipeline behind a held statement. Past this the session ends: the
 * gateway will not buffer without bound for a client that does not wait for its answers.
 */
const MAX_HELD_BYTES = 8 * 1024 * 1024;

/** COPY statements are looked at only when the text can hold one. */
const MENTIONS_COPY = /\bcopy\b/i;
/** The prepared statement the gateway's COPY Describe uses (closed right after). */
const COPY_DESCRIBE_STATEMENT = '__witness_copy_columns';
/** The rule name recorded for what masking refuses (the reason names the masking rules). */
const MASKING_RULE = 'masking';

/** ErrorResponse / NoticeResponse fields clients read as codes: severity, SQLSTATE, positions, source. */
const MACHINE_READ_FIELDS = new Set(['S', 'V', 'C', 'P', 'p', 'F', 'L', 'R']);

export class PostgresProtocolTracker {
  transactionStatus: TransactionStatus;
  standardConformingStrings: boolean;
  /** The server sent a FATAL or PANIC: its closing the connection next is explained. */
  serverSentFatal = false;
  /** The client sent Terminate: the target closing the connection next is the normal end. */
  clientTerminated = false;

  private readonly expected = new ResponseQueue();
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, Portal>();
  private readonly masking: boolean;
  /** Value rules exist: notices, errors, notifications and parameters are masked too. */
  private readonly maskingText: boolean;
  /** A statement of this extended-protocol batch was blocked: drop the rest up to Sync. */
  private swallowingUntilSync = false;
  /** The server reported an error in the extended protocol and skips messages up to Sync. */
  private serverSkippingUntilSync = false;
  /** Masking of the simple query's current result set (between RowDescription and its end). */
  private simpleRows: RowMasking | undefined;
  /** The client sent extended-protocol messages not yet ended by Sync. */
  private unsyncedExtended = false;
  /** The COPY TO whose data is streaming, while masking applies to it. */
  private copyOut: CopyOut | undefined;
  /** The last RowDescription's body and fields: a repeated query's is decoded once. */
  private lastRowDescription:
    | {
        body: Buffer;
        fields: FieldDescription[];
        /** With value rules applied to the names: null when none changed, undefined not yet known. */
        maskedBytes?: Buffer | null;
        /** The masking of a simple query's rows under it (text format), once planned. */
        simplePlan?: MaskPlan;
      }
    | undefined;
  /** Client messages held (copies, in order) until the server answered what came before. */
  private held: Frame[] | undefined;
  private heldBytes = 0;
  /** An Execute was forwarded since the last Sync: its effects are reported only at Sync. */
  private executedSinceSync = false;
  /** The last message forwarded leaves the server's answers unflushed (no Sync/Query/Flush). */
  private answersUnflushed = false;

  constructor(
    private readonly policy: SessionPolicy,
    private readonly hooks: TrackerHooks,
    initial: { transactionStatus?: TransactionStatus; standardConformingStrings?: boolean } = {},
  ) {
    this.masking = policy.masker.hasRules;
    this.maskingText = policy.masker.hasValueRules;
    this.transactionStatus = initial.transactionStatus ?? 'I';
    this.standardConformingStrings = initial.standardConformingStrings ?? true;
  }

  /** The head of what the server owes is the gateway's own answer: `answer` sends it now. */
  get answersDue(): boolean {
    return this.expected.head?.kind === 'refusal';
  }

  /** Held client messages may go now: everything before them was answered. */
  get releaseDue(): boolean {
    return this.held !== undefined && !this.expected.awaitsServer();
  }

  /** Decides the held messages (the session calls it on the target's side when `releaseDue`). */
  release(out: Decisions): void {
    const frames = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    // A released statement may have to wait again (client() holds the rest behind it).
    for (const frame of frames) this.client(frame, out);
  }

  /** One message from the client. Throws ProtocolError on one that has no place here. */
  client(frame: Frame, out: Decisions): void {
    const type = frame.type;
    if (this.held !== undefined) {
      this.hold(frame);
      return;
    }
    if (this.swallowingUntilSync && type !== 'S' && type !== 'X') return;
    switch (type) {
      case 'Q': {
        const { sql } = decodeFrontend(frame) as { sql: string };
        if (this.mustWait(sql)) {
          this.wait(frame, sql, out, true);
          return;
        }
        const verdict = this.policy.check(sql);
        if (verdict.blocked) {
          this.block(verdict, sql, out, true);
          return;
        }
        const query = this.masking && MENTIONS_COPY.test(sql) ? this.copyQuery(sql, out) : QUERY;
        if (query === undefined) return; // refused
        out.forward(frame.raw);
        this.answersUnflushed = false;
        this.expect(query);
        return;
      }
      case 'P': {
        const parse = decodeFrontend(frame) as { statement: string; sql: string };
        if (this.mustWait(parse.sql)) {
          this.wait(frame, parse.sql, out, false);
          return;
        }
        const verdict = this.policy.check(parse.sql);
        if (verdict.blocked) {
          this.block(verdict, parse.sql, out, false);
          this.swallowingUntilSync = true;
          return;
        }
        if (this.masking && MENTIONS_COPY.test(parse.sql)) {
          const copies = copyOutStatements(this.policy.parse(parse.sql));
          if (copies !== 'unparsed' && copies.length > 0) {
            // No Describe can be sent ahead of it inside the client's batch.
            this.refuseMasked(
              "COPY … TO through the extended protocol cannot be masked; send it as a simple query (psql's \\copy does)",
              parse.sql,
              out,
              false,
            );
            this.swallowingUntilSync = true;
            return;
          }
        }
        this.unsyncedExtended = true;
        if (this.masking) {
          remember(this.statements, parse.statement, MAX_STATEMENTS, {
            name: parse.statement,
            sql: parse.sql,
            fields: undefined,
            describeRequested: false,
          });
        }
        out.forward(frame.raw);
        this.answersUnflushed = true;
        this.expect(PARSE);
        return;
      }
      case 'B': {
        // Decoded even when not tracked: a malformed message is refused, never passed on.
        const bind = decodeFrontend(frame) as Bind;
        this.unsyncedExtended = true;
        if (this.masking) {
          remember(this.portals, bind.portal, MAX_PORTALS, {
            name: bind.portal,
            statementName: bind.statement,
            statement: this.statements.get(bind.statement),
            resultFormats: bind.resultFormats,
            fields: undefined,
            describeRequested: false,
          });
        }
        out.forward(frame.raw);
        this.answersUnflushed = true;
        this.expect(BIND);
        return;
      }
      case 'D': {
        const describe = decodeFrontend(frame) as { target: 'statement' | 'portal'; name: string };
        this.answersUnflushed = true;
        this.unsyncedExtended = true;
        if (!this.masking) {
          out.forward(frame.raw);
          this.expect(DESCRIBE_UNTRACKED);
          return;
        }
        if (describe.target === 'statement') {
          const statement = this.statements.get(describe.name);
          if (statement) statement.describeRequested = true;
          this.expect({ kind: 'describe', target: 'statement', statement });
        } else {
          const portal = this.portals.get(describe.name);
          if (portal) portal.describeRequested = true;
          this.expect({ kind: 'describe', target: 'portal', portal });
        }
        out.forward(frame.raw);
        return;
      }
      case 'E': {
        const execute = decodeFrontend(frame) as { portal: string };
        this.answersUnflushed = true;
        this.executedSinceSync = true;
        this.unsyncedExtended = true;
        if (!this.masking) {
          out.forward(frame.raw);
          this.expect(EXECUTE_UNTRACKED);
          return;
        }
        const portal = this.portals.get(execute.portal);
        if (
          portal !== undefined &&
          !portal.describeRequested &&
          !portal.statement?.describeRequested &&
          !this.serverSkippingUntilSync
        ) {
          // The client never asked for the columns, but masking needs them before the rows.
          out.add(encodeFrontend({ type: 'Describe', target: 'portal', name: portal.name }));
          portal.describeRequested = true;
          this.expect({ kind: 'injectedDescribe', portal });
        }
        out.forward(frame.raw);
        this.expect({ kind: 'execute', portal });
        return;
      }
      case 'C': {
        const close = decodeFrontend(frame) as { target: 'statement' | 'portal'; name: string };
        this.unsyncedExtended = true;
        if (this.masking) {
          if (close.target === 'statement') this.statements.delete(close.name);
          else this.portals.delete(close.name);
        }
        out.forward(frame.raw);
        this.answersUnflushed = true;
        this.expect(CLOSE);
        return;
      }
      case 'S':
        this.swallowingUntilSync = false;
        this.serverSkippingUntilSync = false;
        this.executedSinceSync = false;
        this.answersUnflushed = false;
        this.unsyncedExtended = false;
        out.forward(frame.raw);
        this.expect(SYNC);
        return;
      case 'F':
        // A fast-path call's result is a bare value with no column: masking cannot see it.
        if (this.policy.hasGuardrails || this.masking) {
          this.block(
            {
              blocked: true,
              rule: 'function_call',
              statement: '',
              reason:
                'fast-path function calls bypass the guardrails and masking, so they are not allowed on this database; call the function in a query instead',
              code: SQLSTATE.insufficientPrivilege,
              builtIn: true,
            },
            '',
            out,
            true,
          );
          return;
        }
        out.forward(frame.raw);
        this.expect(QUERY);
        return;
      case 'X':
        this.clientTerminated = true;
        out.forward(frame.raw);
        return;
      case 'H':
        this.answersUnflushed = false;
        out.forward(frame.raw);
        return;
      case 'd':
      case 'c':
      case 'f':
        out.forward(frame.raw);
        return;
      default:
        // 'p' (a password message) has no place after login.
        throw new ProtocolError(
          'unknown_message',
          `Unexpected message '${type}' from the client after login`,
        );
    }
  }

  /** One message from the server. Throws OutOfOrder / ProtocolError / ClientEncodingChanged. */
  server(frame: Frame, out: Decisions): void {
    const type = frame.type;
    if (type === 'D') {
      this.dataRow(frame, out);
      return;
    }
    const head = this.expected.head;
    if (head?.kind === 'copyDescribe' && this.copyDescribeAnswer(frame, head.copy, out)) return;
    /** What goes to the client in the message's place (masked text, a refusal). */
    let masked: Buffer | undefined;
    switch (type) {
      case 'T': {
        if (head?.kind === 'injectedDescribe') {
          head.portal.fields = this.rowDescription(frame);
          this.expected.shift();
          this.answer(out);
          return; // the client did not ask for it
        }
        if (head?.kind === 'query') {
          this.simpleRows = this.masking ? this.simpleQueryPlan(frame) : 'none';
          if (this.simpleRows !== 'none') reportMaskedColumns(this.simpleRows, out);
        } else if (head?.kind === 'describe') {
          if (this.masking) {
            const fields = this.rowDescription(frame);
            if (head.target === 'statement' && head.statement) head.statement.fields = fields;
            if (head.target === 'portal' && head.portal) head.portal.fields = fields;
          }
          this.expected.shift();
        } else {
          throw new OutOfOrder('RowDescription that answers no query or Describe');
        }
        if (this.maskingText) masked = this.maskedRowDescription(frame);
        break;
      }
      case 'n': // NoData
        if (head?.kind === 'injectedDescribe') {
          head.portal.fields = null;
          this.expected.shift();
          this.answer(out);
          return;
        }
        if (head?.kind !== 'describe') throw new OutOfOrder('NoData that answers no Describe');
        if (head.target === 'statement' && head.statement) head.statement.fields = null;
        if (head.target === 'portal' && head.portal) head.portal.fields = null;
        this.expected.shift();
        break;
      case 't': // ParameterDescription, the first half of the answer to Describe (statement)
        // Untracked Describes are not told apart by target: either may be answered so.
        if (head?.kind !== 'describe' || (this.masking && head.target !== 'statement')) {
          throw new OutOfOrder('ParameterDescription that answers no Describe');
        }
        break;
      case '1':
      case '2':
      case '3': {
        const kind = type === '1' ? 'parse' : type === '2' ? 'bind' : 'close';
        if (head?.kind !== kind) throw new OutOfOrder(`${completeName(type)} without a ${kind}`);
        this.expected.shift();
        break;
      }
      case 'C':
      case 'I':
        // A COPY refused after the fact ends with the gateway's error instead of its tag.
        if (this.copyOut?.kind === 'refused') masked = this.copyOut.error.bytes;
        this.copyOut = undefined;
        if (head?.kind === 'query') this.simpleRows = undefined;
        else if (head?.kind === 'execute') this.expected.shift();
        else
          throw new OutOfOrder(
            `${type === 'C' ? 'CommandComplete' : 'EmptyQueryResponse'} that answers no query`,
          );
        break;
      case 's': // PortalSuspended: the Execute's row limit was reached
        if (head?.kind !== 'execute') throw new OutOfOrder('PortalSuspended without an Execute');
        this.expected.shift();
        break;
      case 'E': {
        // Decoded whole (errors are rare): a malformed one is the server breaking the protocol.
        const { fields } = decodeBackend(frame) as { fields: NoticeFieldMap };
        masked = this.maskedNotice('ErrorResponse', fields);
        this.copyOut = undefined;
        const severity = fields.get('S');
        if (severity === 'FATAL' || severity === 'PANIC') this.serverSentFatal = true;
        if (head?.kind === 'query') {
          this.simpleRows = undefined;
        } else if (head !== undefined && head.kind !== 'sync') {
          // Extended protocol: the server now skips every message up to Sync.
          if (!this.expected.dropUntilSync()) this.serverSkippingUntilSync = true;
        }
        break;
      }
      case 'N':
        if (this.maskingText) {
          const { fields } = decodeBackend(frame) as { fields: NoticeFieldMap };
          masked = this.maskedNotice('NoticeResponse', fields);
        }
        break;
      case 'A':
        if (this.maskingText) {
          const notification = decodeBackend(frame) as NotificationResponse;
          const payload = this.policy.masker.maskText(notification.payload);
          if (payload !== notification.payload)
            masked = encodeBackend({ ...notification, payload });
        }
        break;
      case 'd':
        if (this.copyOut !== undefined) {
          if (this.copyOut.kind === 'refused') return;
          const rows = this.copyOut.rows.data(frame.body);
          if (rows !== undefined) {
            if (rows.length === 0) return; // a row's start: sent with its end
            masked = encodeBackend({ type: 'CopyData', data: rows });
          }
        }
        break;
      case 'Z': {
        if (head?.kind !== 'query' && head?.kind !== 'sync') {
          throw new OutOfOrder('ReadyForQuery that ends no query or Sync');
        }
        const status = frame.body.toString('latin1', 0, 1);
        if (status !== 'I' && status !== 'T' && status !== 'E') {
          throw new ProtocolError('malformed', `ReadyForQuery with status '${status}'`);
        }
        this.transactionStatus = status;
        this.simpleRows = undefined;
        this.copyOut = undefined;
        this.expected.shift();
        // The ReadyForQuery goes out before any refusal that was waiting for it.
        out.forward(frame.raw);
        this.answer(out);
        return;
      }
      case 'S': {
        const parameter = decodeBackend(frame) as { name: string; value: string };
        if (parameter.name === 'client_encoding' && parameter.value.toUpperCase() !== 'UTF8') {
          throw new ClientEncodingChanged(parameter.value);
        }
        if (parameter.name === 'standard_conforming_strings') {
          this.standardConformingStrings = parameter.value !== 'off';
          // Changed out of the parse's sight (a function, ALTER … SET and a reload): what the
          // gateway decided from now on could differ from what the server reads.
          if (!this.standardConformingStrings && this.policy.enforcing) {
            throw new LexingSettingChanged(parameter.name, parameter.value);
          }
        }
        // `set_config('application_name', email, false)` reports a value back as a parameter.
        if (this.maskingText) {
          const value = this.policy.masker.maskText(parameter.value);
          if (value !== parameter.value) {
            masked = encodeBackend({ type: 'ParameterStatus', name: parameter.name, value });
          }
        }
        break;
      }
      case 'G': // CopyInResponse
      case 'H': // CopyOutResponse
      case 'W': // CopyBothResponse
      case 'c': // CopyDone
      case 'V': // FunctionCallResponse
        if (head?.kind !== 'query' && head?.kind !== 'execute') {
          throw new OutOfOrder(`message '${type}' that answers no query`);
        }
        if (type === 'H' && this.masking) {
          const response = decodeBackend(frame) as CopyOutResponse;
          const pending = head.kind === 'query' ? head.copies?.shift() : undefined;
          this.copyOut = startCopyOut(this.policy.masker, pending, response);
          if (this.copyOut?.kind === 'refused') {
            // Recorded as refused where it happened; the client hears of it at the end.
            this.hooks.blocked(
              {
                blocked: true,
                rule: MASKING_RULE,
                statement: '',
                reason: this.copyOut.reason,
                code: SQLSTATE.insufficientPrivilege,
                builtIn: true,
              },
              '',
              out,
            );
            return;
          }
        } else if (type === 'c' && this.copyOut !== undefined) {
          if (this.copyOut.kind === 'refused') return;
          const rest = this.copyOut.rows.end();
          if (rest !== undefined) out.add(encodeBackend({ type: 'CopyData', data: rest }));
        }
        break;
      default:
        // Authentication, BackendKeyData, NegotiateProtocolVersion: only during login.
        throw new OutOfOrder(`message '${type}' that belongs to the login, not to a session`);
    }
    if (masked === undefined) out.forward(frame.raw);
    else out.add(masked);
    if (this.expected.head?.kind === 'refusal') this.answer(out);
  }

  /**
   * An ErrorResponse or NoticeResponse with the value rules applied to its text fields
   * (message, DETAIL, HINT, WHERE, the names and the internal query), or undefined when none
   * changed (issue #13: `RAISE NOTICE '%', email`, a unique violation's DETAIL and an
   * `invalid input syntax` error carry values in clear). Severity, SQLSTATE and positions
   * are machine-read and stay as sent.
   */
  private maskedNotice(
    type: 'ErrorResponse' | 'NoticeResponse',
    fields: NoticeFieldMap,
  ): Buffer | undefined {
    if (!this.maskingText) return undefined;
    let changed: NoticeFieldMap | undefined;
    for (const [code, value] of fields) {
      if (MACHINE_READ_FIELDS.has(code)) continue;
      const text = this.policy.masker.maskText(value);
      if (text === value) continue;
      changed ??= new Map(fields);
      changed.set(code, text);
    }
    return changed === undefined ? undefined : encodeBackend({ type, fields: changed });
  }

  /** Sends the gateway's own answers that are now due (everything before them was answered). */
  answer(out: Decisions): void {
    for (let head = this.expected.head; head?.kind === 'refusal'; head = this.expected.head) {
      this.expected.shift();
      out.add(head.error.bytes);
      if (head.ready) {
        out.add(encodeBackend({ type: 'ReadyForQuery', status: this.transactionStatus }));
      }
    }
  }

  /**
   * A statement must wait for the server's answers to what came before it: a policy applies,
   * the server still owes answers, and the lexing settings could change how it reads the text.
   */
  private mustWait(sql: string): boolean {
    return this.policy.enforcing && this.expected.awaitsServer() && dependsOnLexingSettings(sql);
  }

  /**
   * Holds a statement until everything before it is answered; or refuses it when that cannot
   * happen: after an Execute in the same batch, the server reports a changed setting only at
   * the Sync, which the client sends after this statement.
   */
  private wait(frame: Frame, sql: string, out: Decisions, simple: boolean): void {
    if (this.executedSinceSync) {
      this.block(
        {
          blocked: true,
          rule: LEXING_SETTINGS_RULE,
          statement: sql.trim(),
          reason:
            'a statement with backslashes or non-ASCII characters cannot follow an executed statement in the same batch while masking or guardrails apply, because the gateway must know the settings it is read with; send a Sync before it',
          code: SQLSTATE.insufficientPrivilege,
          builtIn: true,
        },
        sql,
        out,
        simple,
      );
      if (!simple) this.swallowingUntilSync = true;
      return;
    }
    // The server flushes its answers at Sync, Query and Flush; after anything else ask for them.
    if (this.answersUnflushed) {
      out.add(FLUSH);
      this.answersUnflushed = false;
    }
    this.held = [];
    this.hold(frame);
  }

  private hold(frame: Frame): void {
    this.heldBytes += frame.raw.length;
    if (this.heldBytes > MAX_HELD_BYTES) {
      throw new ProtocolError(
        'message_too_large',
        `more than ${MAX_HELD_BYTES / 1024 / 1024} MiB sent behind a statement that waits for the answers before it; wait for the server's answers`,
      );
    }
    // A copy: the read buffer the frame views is not kept beyond its turn.
    const raw = Buffer.from(frame.raw);
    this.held!.push({ type: frame.type, raw, body: raw.subarray(raw.length - frame.body.length) });
  }

  /**
   * A Query with COPY … TO statements while masking applies: refused when one cannot be
   * masked, else the Query's entry with them, and a Describe of each COPY's columns sent ahead
   * of it (not inside a client's unsynced extended batch, whose transaction a Sync would end:
   * there the COPY is masked by value rules alone, or refused after the fact).
   */
  private copyQuery(sql: string, out: Decisions): Expected | undefined {
    const statements = copyOutStatements(this.policy.parse(sql));
    // Unparsed: the server's grammar refuses it too; a COPY it still runs is refused after the fact.
    if (statements === 'unparsed' || statements.length === 0) return QUERY;
    for (const statement of statements) {
      const reason = copyRefusalReason(this.policy.masker, statement);
      if (reason !== undefined) {
        this.refuseMasked(reason, sql, out, true);
        return undefined;
      }
    }
    const copies: PendingCopy[] = statements.map((statement) => ({ statement, fields: undefined }));
    if (!this.unsyncedExtended && !this.serverSkippingUntilSync) {
      for (const copy of copies) {
        if (copy.statement.describeSql === undefined) continue;
        out.add(
          Buffer.concat([
            encodeFrontend({
              type: 'Parse',
              statement: COPY_DESCRIBE_STATEMENT,
              sql: copy.statement.describeSql,
              parameterTypes: [],
            }),
            encodeFrontend({
              type: 'Describe',
              target: 'statement',
              name: COPY_DESCRIBE_STATEMENT,
            }),
            encodeFrontend({ type: 'Close', target: 'statement', name: COPY_DESCRIBE_STATEMENT }),
            encodeFrontend({ type: 'Sync' }),
          ]),
        );
        this.expect({ kind: 'copyDescribe', copy });
      }
    }
    return { kind: 'query', copies };
  }

  /** The server's answer to a COPY Describe: kept, not relayed. False for what it does not own. */
  private copyDescribeAnswer(frame: Frame, copy: PendingCopy, out: Decisions): boolean {
    switch (frame.type) {
      case '1': // ParseComplete
      case 't': // ParameterDescription
      case '3': // CloseComplete
        return true;
      case 'T':
        copy.fields = this.rowDescription(frame);
        return true;
      case 'n':
        copy.fields = null;
        return true;
      case 'E': {
        const { fields } = decodeBackend(frame) as { fields: NoticeFieldMap };
        const severity = fields.get('S');
        // A FATAL ends the connection: the client is told as usual.
        if (severity === 'FATAL' || severity === 'PANIC') return false;
        // The COPY itself will fail the same way, or (columns unknown) be refused.
        copy.fields = undefined;
        return true;
      }
      case 'Z': {
        const status = frame.body.toString('latin1', 0, 1);
        if (status !== 'I' && status !== 'T' && status !== 'E') {
          throw new ProtocolError('malformed', `ReadyForQuery with status '${status}'`);
        }
        this.transactionStatus = status;
        this.expected.shift();
        this.answer(out);
        return true;
      }
      default:
        return false; // notices, parameter status, notifications: relayed as ever
    }
  }

  /** Refuses a statement masking cannot cover: recorded as blocked, answered in its turn. */
  private refuseMasked(reason: string, query: string, out: Decisions, ready: boolean): void {
    this.hooks.blocked(
      {
        blocked: true,
        rule: MASKING_RULE,
        statement: query,
        reason,
        code: SQLSTATE.insufficientPrivilege,
        builtIn: true,
      },
      query,
      out,
    );
    this.expect({
      kind: 'refusal',
      error: errorResponse(
        'ERROR',
        SQLSTATE.insufficientPrivilege,
        printable(`refused by the gateway: ${reason}`),
        'Nothing of this query was sent to the database.',
      ),
      ready,
    });
  }

  /** Refuses a statement: recorded by the hook, answered in its turn with an ErrorResponse. */
  private block(verdict: BlockedStatement, query: string, out: Decisions, ready: boolean): void {
    this.hooks.blocked(verdict, query, out);
    const message =
      verdict.label === 'strict masking'
        ? printable(`blocked by strict masking: ${verdict.reason}`)
        : verdict.builtIn
          ? printable(`blocked by gateway rule "${verdict.rule}": ${verdict.reason}`)
          : printable(`blocked by guardrail "${verdict.rule}": ${verdict.reason}`);
    const hint = verdict.builtIn
      ? undefined
      : 'Nothing of this query was sent to the database. Ask an admin if you need to run it.';
    this.expect({
      kind: 'refusal',
      error: errorResponse('ERROR', verdict.code, message, hint),
      ready,
    });
  }

  private expect(expected: Expected): void {
    // While the server skips up to Sync, it answers nothing before it (and nor does the gateway).
    if (this.serverSkippingUntilSync && expected.kind !== 'sync') return;
    this.expected.push(expected);
  }

  private rowDescription(frame: Frame): FieldDescription[] {
    const last = this.lastRowDescription;
    if (last?.body.equals(frame.body)) return last.fields;
    const { fields } = decodeBackend(frame) as { fields: FieldDescription[] };
    this.lastRowDescription = { body: Buffer.from(frame.body), fields };
    return fields;
  }

  /**
   * The masking of a simple query's result: planned once per distinct RowDescription, so a
   * repeated query's rows (pgbench's, an application's) cost no planning, and a result no rule
   * can touch is forwarded row by row untouched (`active` false).
   */
  private simpleQueryPlan(frame: Frame): MaskPlan {
    const fields = this.rowDescription(frame);
    const last = this.lastRowDescription!;
    last.simplePlan ??= this.policy.masker.forColumns(fields.map(resultColumn));
    return last.simplePlan;
  }

  /**
   * The RowDescription with the value rules applied to its column names, or undefined when
   * none changed: dynamic SQL can name a column after a value (`EXECUTE format('CREATE VIEW v
   * AS SELECT 1 AS %I', email)`). Masking plans use the server's names, not these.
   */
  private maskedRowDescription(frame: Frame): Buffer | undefined {
    const fields = this.rowDescription(frame);
    const last = this.lastRowDescription!;
    if (last.maskedBytes === undefined) {
      const names = fields.map((field) => this.policy.masker.maskText(field.name));
      last.maskedBytes = names.every((name, i) => name === fields[i]!.name)
        ? null
        : encodeBackend({
            type: 'RowDescription',
            fields: fields.map((field, i) => ({ ...field, name: names[i]! })),
          });
    }
    return last.maskedBytes ?? undefined;
  }

  private dataRow(frame: Frame, out: Decisions): void {
    const head = this.expected.head;
    let masking: RowMasking;
    if (head?.kind === 'query') {
      if (this.simpleRows === undefined) throw new OutOfOrder('DataRow before its RowDescription');
      masking = this.simpleRows;
    } else if (head?.kind === 'execute') {
      masking = this.masking ? this.portalMasking(head.portal) : 'none';
    } else {
      throw new OutOfOrder('DataRow that answers no query');
    }
    if (masking === 'none' || (masking !== 'unknown' && !masking.active)) {
      out.forward(frame.raw);
      return;
    }
    const { values } = decodeDataRow(frame.body);
    let masked: readonly (Buffer | null)[];
    if (masking === 'unknown') {
      masked = values.map(() => null);
    } else {
      let result: ReturnType<ResultMasker['maskRow']>;
      try {
        result = this.policy.masker.maskRow(masking, values);
      } catch (error) {
        // A row that does not fit its description: the server's fault, said as the codec does.
        throw new ProtocolError('malformed', (error as Error).message);
      }
      if (!result.changed) {
        out.forward(frame.raw);
        return;
      }
      masked = result.values;
    }
    out.add(encodeDataRow(masked));
  }

  /** The masking of an Execute's rows: from Describe (portal), or the statement's + Bind's formats. */
  private portalMasking(portal: Portal | undefined): RowMasking {
    if (portal === undefined) return 'unknown';
    if (portal.plan !== undefined) return portal.plan as RowMasking;
    let fields = portal.fields;
    if (fields === undefined) {
      const described = portal.statement?.fields;
      fields =
        described === undefined || described === null
          ? described
          : withResultFormats(described, portal.resultFormats);
    }
    let masking: RowMasking;
    if (fields === undefined || fields === null) {
      this.hooks.unknownColumns?.(portal.name);
      masking = 'unknown';
    } else {
      masking = this.policy.masker.forColumns(fields.map(resultColumn));
    }
    portal.plan = masking;
    return masking;
  }
}

function completeName(type: string): string {
  return type === '1' ? 'ParseComplete' : type === '2' ? 'BindComplete' : 'CloseComplete';
}

function resultColumn(field: FieldDescription): { name: string; typeOid: number; format: number } {
  return { name: field.name, typeOid: field.typeOid, format: field.format };
}

/** A statement's description (formats 0) with the result formats a Bind asked for. */
function withResultFormats(
  fields: readonly FieldDescription[],
  formats: readonly number[],
): FieldDescription[] {
  return fields.map((field, i) => ({
    ...field,
    format: formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0),
  }));
}
