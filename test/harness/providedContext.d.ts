/** Values test/harness/globalSetup.ts hands to every test file through `inject()`. */
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL cluster; empty when none could be started. */
    postgresUrl: string;
    /** Why there is no PostgreSQL for this run (empty when there is); shown on skip/fail. */
    postgresUnavailable: string;
  }
}
