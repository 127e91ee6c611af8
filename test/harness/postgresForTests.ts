/**
 * How test files get a PostgreSQL database: `describeWithPostgres` for a suite, and
 * `freshPostgresDatabase()` inside it for an empty database of the test's own.
 *
 * When globalSetup could not start PostgreSQL, the suite FAILS on CI (`CI` set: CI installs
 * PostgreSQL, so a missing one is a broken pipeline) and is otherwise skipped with the reason
 * printed and in the suite's name — never silently.
 */
import { randomBytes } from 'node:crypto';
import { describe, inject, it } from 'vitest';
import { createDatabase } from './postgresCluster.ts';

/** Why there is no PostgreSQL in this run, or undefined when there is one. */
export function postgresUnavailableReason(): string | undefined {
  if (inject('postgresUrl')) return undefined;
  return inject('postgresUnavailable') || 'globalSetup provided no PostgreSQL URL';
}

let counter = 0;

/** Creates a uniquely named, empty database on the run's cluster and returns its URL. */
export async function freshPostgresDatabase(): Promise<string> {
  const reason = postgresUnavailableReason();
  if (reason !== undefined) throw new Error(`PostgreSQL is not available: ${reason}`);
  counter += 1;
  const name = `t_${process.pid}_${counter}_${randomBytes(4).toString('hex')}`;
  return createDatabase(inject('postgresUrl'), name);
}

/** `describe` for suites that need PostgreSQL; see the module comment for the no-server case. */
export function describeWithPostgres(name: string, body: () => void): void {
  const reason = postgresUnavailableReason();
  if (reason === undefined) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it('needs PostgreSQL, which CI must provide', () => {
        throw new Error(`PostgreSQL is not available: ${reason}`);
      });
    });
  } else {
    console.warn(`[test harness] skipping "${name}": PostgreSQL is not available: ${reason}`);
    describe.skip(`${name} (skipped: PostgreSQL is not available: ${reason})`, body);
  }
}
