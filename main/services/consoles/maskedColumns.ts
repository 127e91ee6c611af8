/**
 * Which columns of the next result the gateway masked, from its `witness.masked_columns`
 * ParameterStatus sent just before that result's RowDescription
 * (shared/postgres/maskedColumnsParameter.ts).
 */
import {
  MASKED_COLUMNS_PARAMETER,
  parseMaskedColumns,
} from '../../../shared/postgres/maskedColumnsParameter.ts';

export class MaskedColumnReport {
  private pending: Set<number> | null = null;

  /** A ParameterStatus: true when it was the gateway's report (and is kept for the next result). */
  take(parameter: { parameterName: string; parameterValue: string }): boolean {
    if (parameter.parameterName !== MASKED_COLUMNS_PARAMETER) return false;
    this.pending = parseMaskedColumns(parameter.parameterValue);
    return true;
  }

  /** The report for the RowDescription that just arrived (and forgets it). */
  forResult(): Set<number> {
    const masked = this.pending ?? new Set<number>();
    this.pending = null;
    return masked;
  }
}
