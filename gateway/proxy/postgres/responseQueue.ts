/**
 * Which client request each server message answers. The protocol is strictly ordered — the
 * server answers requests in the order it received them — so a FIFO of what the client asked
 * (and the gateway forwarded) says what every RowDescription, DataRow, CommandComplete and
 * ReadyForQuery belongs to. The proxy needs that to:
 *
 * - find the result columns for a DataRow (masking), also for clients that described a
 *   prepared statement once and then only execute it;
 * - put its own answer to a blocked statement exactly where the server's answer would have
 *   been, after the answers to everything the client sent before it;
 * - follow the server's "skip until Sync" after an error in the extended protocol
 *   (protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY), dropping what the server will not answer;
 * - refuse a server whose answers do not fit what was asked (out-of-order messages).
 *
 * Pure bookkeeping, no I/O.
 */
import type {
  DescribeTarget,
  FieldDescription,
  FormatCode,
} from '../../../shared/postgres/codec.ts';
import type { PendingCopy } from './copyOutMasking.ts';
import type { GatewayErrorResponse } from './errorResponses.ts';

/** A prepared statement as the client created it with Parse (named or unnamed ''). */
export interface PreparedStatement {
  readonly name: string;
  readonly sql: string;
  /** From the server's answer to Describe: undefined unknown, null NoData. Formats are 0. */
  fields: readonly FieldDescription[] | null | undefined;
  /** The client asked to describe it (the answer may still be on its way). */
  describeRequested: boolean;
}

/** A portal as the client created it with Bind. */
export interface Portal {
  readonly name: string;
  readonly statementName: string;
  /** The statement it was bound from, when the gateway saw its Parse. */
  readonly statement: PreparedStatement | undefined;
  readonly resultFormats: FormatCode[];
  /** From the server's answer to Describe (portal): undefined unknown, null NoData. */
  fields: readonly FieldDescription[] | null | undefined;
  describeRequested: boolean;
  /** The masking plan, computed at its first DataRow. */
  plan?: unknown;
}

/** What the server owes the client, one entry per request, in order. */
export type Expected =
  /**
   * A Query (or FunctionCall): any results, ended by ReadyForQuery. `copies`: its COPY … TO
   * STDOUT statements in order, while masking applies (copyOutMasking.ts).
   */
  | { kind: 'query'; copies?: PendingCopy[] }
  | { kind: 'parse' }
  | { kind: 'bind' }
  | { kind: 'describe'; target: DescribeTarget; statement?: PreparedStatement; portal?: Portal }
  /** A Describe the gateway added itself to learn a portal's columns; its answer is not relayed. */
  | { kind: 'injectedDescribe'; portal: Portal }
  /**
   * Parse, Describe, Close and Sync the gateway sent ahead of a Query to learn a COPY's
   * columns; ParseComplete up to ReadyForQuery (or an ErrorResponse) answer it, not relayed.
   */
  | { kind: 'copyDescribe'; copy: PendingCopy }
  | { kind: 'execute'; portal: Portal | undefined }
  | { kind: 'close' }
  | { kind: 'sync' }
  /**
   * The gateway's own answer to a message it did not forward (a blocked statement): sent when
   * everything before it has been answered; `ready` adds a ReadyForQuery (simple protocol).
   */
  | { kind: 'refusal'; error: GatewayErrorResponse; ready: boolean };

export class ResponseQueue {
  private items: Expected[] = [];
  private start = 0;

  get head(): Expected | undefined {
    return this.items[this.start];
  }

  get length(): number {
    return this.items.length - this.start;
  }

  /** Whether the server still owes an answer (anything but the gateway's own refusals). */
  awaitsServer(): boolean {
    for (let i = this.start; i < this.items.length; i++) {
      if (this.items[i]!.kind !== 'refusal') return true;
    }
    return false;
  }

  push(expected: Expected): void {
    this.items.push(expected);
  }

  shift(): Expected | undefined {
    const item = this.items[this.start];
    if (item === undefined) return undefined;
    this.start++;
    if (this.start > 64 && this.start * 2 > this.items.length) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
    return item;
  }

  /**
   * After an ErrorResponse in the extended protocol the server skips every message up to the
   * next Sync. Drops the entries before the first Sync; false when there is none yet (the
   * client's Sync is still to come, and what it sends until then is skipped too).
   */
  dropUntilSync(): boolean {
    while (this.length > 0) {
      if (this.head!.kind === 'sync') return true;
      this.shift();
    }
    return false;
  }
}
