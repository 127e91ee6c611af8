/**
 * Masking of `COPY … TO STDOUT` (issue #13: `COPY customers TO STDOUT`, `COPY (SELECT …) TO
 * STDOUT` and psql's `\copy` returned every column in clear). Pure: the protocol tracker
 * calls it for CopyOutResponse, each CopyData and CopyDone.
 *
 * A COPY's rows are masked like DataRows, by the same plan (`ResultMasker.forColumns`): the
 * columns come from a Describe of an equivalent query the tracker sends ahead of the COPY
 * (copyStatement.ts), so column and type rules apply; value rules apply to every field. A
 * COPY whose rows cannot be masked — binary format, or a COPY whose statement or columns the
 * gateway could not learn while a column or type rule applies — is *refused after the
 * fact*: its data is dropped and its CommandComplete replaced by an ErrorResponse (42501)
 * naming the rules. (Binary COPY and COPY to files are refused before they run, from the
 * statement; this is the backstop for what the statement did not show.)
 */
import type { FieldDescription } from '../../../shared/postgres/codec.ts';
import {
  type CopyFormat,
  CopyRowSplitter,
  decodeCopyRow,
  encodeCopyRow,
} from '../../policy/copyRows.ts';
import type { CopyOutStatement } from '../../policy/copyStatement.ts';
import type { MaskPlan, ResultMasker } from '../../policy/masking.ts';
import { errorResponse, type GatewayErrorResponse, SQLSTATE } from './errorResponses.ts';

/** A COPY TO STDOUT of a forwarded Query, waiting for its CopyOutResponse. */
export interface PendingCopy {
  readonly statement: CopyOutStatement;
  /** Its columns, from the gateway's Describe: undefined while unknown or when that failed. */
  fields: readonly FieldDescription[] | null | undefined;
}

/** What happens to the data of the COPY that is streaming. */
export type CopyOut =
  | { readonly kind: 'masking'; readonly rows: CopyRowMasker }
  | { readonly kind: 'refused'; readonly reason: string; readonly error: GatewayErrorResponse };

/**
 * Decides a COPY's fate at its CopyOutResponse; undefined when its data may pass as it is
 * (nothing can match in it).
 */
export function startCopyOut(
  masker: ResultMasker,
  pending: PendingCopy | undefined,
  response: { format: number; columnFormats: readonly number[] },
): CopyOut | undefined {
  const names = ruleList(masker.ruleNames);
  if (response.format !== 0) {
    return refused(
      `COPY in binary format cannot be masked (masking ${names}); use FORMAT text or csv`,
    );
  }
  const format = pending?.statement.format;
  if (format === undefined || format === 'binary') {
    return refused(
      `the COPY statement could not be read, so its rows cannot be masked (masking ${names})`,
    );
  }
  const count = response.columnFormats.length;
  const fields = pending?.fields;
  let plan: MaskPlan;
  if (fields && fields.length === count) {
    plan = masker.forColumns(
      fields.map((field) => ({ name: field.name, typeOid: field.typeOid, format: 0 })),
    );
  } else if (masker.hasColumnRules) {
    return refused(
      `the COPY's columns could not be learned, so its rows cannot be masked (masking ${names}); use SELECT`,
    );
  } else {
    // Value rules need no column: every field is looked at (as text of an unknown type).
    plan = masker.forColumns(Array.from({ length: count }, () => UNKNOWN_COLUMN));
  }
  if (!plan.active && !(format.header && masker.hasValueRules)) return undefined;
  return { kind: 'masking', rows: new CopyRowMasker(masker, plan, format) };
}

const UNKNOWN_COLUMN = { name: '', typeOid: 0, format: 0 };

function refused(reason: string): CopyOut {
  return {
    kind: 'refused',
    reason,
    error: errorResponse(
      'ERROR',
      SQLSTATE.insufficientPrivilege,
      `refused by the gateway: ${reason}`,
      'Nothing of the COPY was sent to you.',
    ),
  };
}

function ruleList(names: readonly string[]): string {
  return `rule${names.length === 1 ? '' : 's'} ${names.map((name) => `"${name}"`).join(', ')}`;
}

/** Masks one COPY's rows as they stream. */
export class CopyRowMasker {
  private readonly splitter: CopyRowSplitter;
  private headerDue: boolean;

  constructor(
    private readonly masker: ResultMasker,
    private readonly plan: MaskPlan,
    private readonly format: CopyFormat,
  ) {
    this.splitter = new CopyRowSplitter(format);
    this.headerDue = format.header;
  }

  /**
   * One CopyData's payload → what to send in its place: undefined to forward it as received
   * (it held whole rows and none changed), else the masked whole rows it completed (maybe
   * empty: a row split across messages waits for its end).
   */
  data(payload: Buffer): Buffer | undefined {
    const startedClean = !this.splitter.holdsPartialRow;
    const rows = this.splitter.push(payload);
    let changed = false;
    const out = rows.map((row) => {
      const masked = this.row(row);
      if (masked !== undefined) changed = true;
      return masked ?? withNewline(row);
    });
    if (!changed && startedClean && !this.splitter.holdsPartialRow) return undefined;
    return Buffer.concat(out);
  }

  /** At CopyDone: a last row without its newline, masked (the server never sends one). */
  end(): Buffer | undefined {
    const rest = this.splitter.end();
    if (rest === undefined) return undefined;
    const masked = this.row(rest);
    return masked === undefined ? rest : masked.subarray(0, -1);
  }

  /** The row masked and written again, or undefined when nothing in it changed. */
  private row(row: Buffer): Buffer | undefined {
    if (this.headerDue) {
      // Column names: only value rules look at them.
      this.headerDue = false;
      const text = row.toString('utf8');
      const masked = this.masker.maskText(text);
      return masked === text ? undefined : Buffer.from(`${masked}\n`, 'utf8');
    }
    const values = decodeCopyRow(row, this.format);
    if (values.length !== this.plan.columns.length) {
      // Not the row the server announced: nothing of it goes out.
      return encodeCopyRow(
        this.plan.columns.map(() => null),
        this.format,
      );
    }
    const result = this.masker.maskRow(this.plan, values);
    return result.changed ? encodeCopyRow(result.values, this.format) : undefined;
  }
}

function withNewline(row: Buffer): Buffer {
  return Buffer.concat([row, NEWLINE]);
}

const NEWLINE = Buffer.from('\n');

/**
 * Why a COPY TO cannot run while masking applies, from its statement alone; undefined when it
 * may run (masked row by row).
 */
export function copyRefusalReason(
  masker: ResultMasker,
  statement: CopyOutStatement,
): string | undefined {
  const names = ruleList(masker.ruleNames);
  if (statement.target !== 'stdout') {
    return `COPY to a server ${statement.target} would write values unmasked where this session could read them back (masking ${names})`;
  }
  if (statement.format === 'binary') {
    return `COPY in binary format cannot be masked (masking ${names}); use FORMAT text or csv`;
  }
  if (!statement.first && masker.hasColumnRules) {
    // `SET search_path …; COPY t TO STDOUT` would read another `t` than the Describe did.
    return `COPY … TO must be the first statement of its query while column masking applies: statements before it could change which table or columns it reads (masking ${names}); send the COPY on its own`;
  }
  if (statement.encoding !== undefined && !/^utf-?8$/i.test(statement.encoding)) {
    return `COPY with ENCODING '${statement.encoding}' cannot be masked: the gateway reads rows as UTF-8 (masking ${names})`;
  }
  return undefined;
}
