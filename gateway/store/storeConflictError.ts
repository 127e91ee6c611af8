/**
 * The one error every store method may throw on purpose: a write broke a uniqueness rule.
 * Drivers report that differently; `asConflict` turns either driver's report into this error,
 * so the API can answer 409 without knowing which database is underneath.
 */

/**
 * A write broke a uniqueness rule: the username or resource name is taken, or the id/hash is
 * already stored. Thrown by every `create*`/`insert*`/`update*` method.
 */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
  constructor(
    message: string,
    /** `table.column` that clashed, e.g. `users.username`; `unknown` if the driver did not say. */
    readonly conflict: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Turns a driver's unique-constraint error into a StoreConflictError with a message a person
 * can act on; any other error is returned unchanged (the caller rethrows it).
 * `messages` maps `table.column` to the message for that clash.
 */
export function asConflict(error: unknown, messages: Record<string, string>): unknown {
  const conflict = uniqueViolation(error);
  if (conflict === undefined) return error;
  const message = messages[conflict] ?? `already exists (${conflict})`;
  return new StoreConflictError(message, conflict, { cause: error });
}

/** `table.column` of a unique/primary-key violation, `unknown` if unnamed, else undefined. */
function uniqueViolation(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  // better-sqlite3: "UNIQUE constraint failed: users.username"
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const match = /constraint failed: ([\w.]+)/.exec(String(message));
    return match?.[1] ?? 'unknown';
  }
  // PostgreSQL unique_violation, https://www.postgresql.org/docs/15/errcodes-appendix.html;
  // detail reads "Key (username)=(alice) already exists."
  if (code === '23505') {
    const { table, detail } = error as { table?: unknown; detail?: unknown };
    const column = /^Key \(([^)]+)\)=/.exec(String(detail))?.[1];
    return typeof table === 'string' && column ? `${table}.${column}` : 'unknown';
  }
  return undefined;
}
