/**
 * Which query a search hit in a database recording belongs to. A hit's seq is the frame it was
 * derived from: the query's own frame for SQL, a later one for its result rows, error or notice
 * (issue #16: rows are searched). So the hit belongs to the last query that started at or
 * before it — not the first one at or after it, which for a row hit is the next query.
 * `entries` are in seq order and may be a first page: while every loaded query started at or
 * before the hit and more pages exist, the answer is to load more.
 */
export function queryAtSeq(
  entries: readonly { seq: number }[],
  seq: number,
  morePages: boolean,
): number | 'load-more' {
  const after = entries.findIndex((e) => e.seq > seq);
  if (after === 0) return 0;
  if (after > 0) return after - 1;
  if (morePages) return 'load-more';
  return Math.max(0, entries.length - 1);
}
