/**
 * The Recordings view's filter form → the contract's `filters` (blank fields left out, dates as
 * ISO times: "from" at the start of that day, "to" at its end, in the user's time zone).
 */
import type { RecordingFilters } from '../../../main/ipc/contract.ts';

export interface FilterForm {
  user: string;
  resource: string;
  protocol: '' | 'ssh' | 'postgres';
  status: '' | NonNullable<RecordingFilters['status']>;
  /** yyyy-mm-dd from <input type="date">, or ''. */
  from: string;
  to: string;
}

export const EMPTY_FILTERS: FilterForm = {
  user: '',
  resource: '',
  protocol: '',
  status: '',
  from: '',
  to: '',
};

export function toRecordingFilters(form: FilterForm): RecordingFilters | undefined {
  const filters: RecordingFilters = {};
  const user = form.user.trim();
  const resource = form.resource.trim();
  if (user !== '') filters.user = user;
  if (resource !== '') filters.resource = resource;
  if (form.protocol !== '') filters.protocol = form.protocol;
  if (form.status !== '') filters.status = form.status;
  const from = dayBoundary(form.from, 'start');
  const to = dayBoundary(form.to, 'end');
  if (from !== null) filters.from = from;
  if (to !== null) filters.to = to;
  return Object.keys(filters).length === 0 ? undefined : filters;
}

function dayBoundary(day: string, edge: 'start' | 'end'): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const date =
    edge === 'start'
      ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 0, 0, 0, 0)
      : new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59, 999);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** How many filters are set (shown on the "Filters" toggle). */
export function activeFilterCount(form: FilterForm): number {
  return Object.keys(toRecordingFilters(form) ?? {}).length;
}
