/** Parses a duration like `90s`, `15m`, `12h` or `7d` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!match)
    throw new Error(`'${text}' is not a duration — use a number with s, m, h or d, e.g. 15m or 7d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 's' | 'm' | 'h' | 'd'
  ];
  const ms = Number(match[1]) * unit;
  if (ms <= 0) throw new Error(`the duration '${text}' must be more than zero`);
  return ms;
}
