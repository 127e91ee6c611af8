/**
 * Where a form shows the gateway's refusal: under the field it is about, when its message
 * names that field ("Access to web-1 can be requested for at most 1h" belongs under Duration),
 * else above the form's buttons. The desktop's errors carry only a sentence (`{code, message}`,
 * the IPC convention), so each field says which words mark a message as its own.
 */
export interface FieldErrorRule<Name extends string> {
  field: Name;
  pattern: RegExp;
}

export interface PlacedError<Name extends string> {
  field: Name | null;
  message: string;
}

export function placeServerError<Name extends string>(
  message: string | null,
  rules: readonly FieldErrorRule<Name>[],
): PlacedError<Name> | null {
  if (message === null) return null;
  const rule = rules.find((r) => r.pattern.test(message));
  return { field: rule?.field ?? null, message };
}

/** The message for one field, if the placed error is its. */
export function errorFor<Name extends string>(
  placed: PlacedError<Name> | null,
  field: Name,
): string | null {
  return placed?.field === field ? placed.message : null;
}
