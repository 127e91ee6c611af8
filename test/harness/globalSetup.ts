/**
 * vitest globalSetup: one PostgreSQL cluster for the whole run, shared by every test file
 * (each test takes its own database from it, see postgresForTests.ts).
 *
 * `WITNESS_TEST_POSTGRES_URL` points the run at an existing server instead (a superuser URL);
 * the test databases created on it are left behind.
 */
import type { TestProject } from 'vitest/node';
import { type PostgresCluster, startPostgresCluster } from './postgresCluster.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let cluster: PostgresCluster | undefined;
  const external = process.env.WITNESS_TEST_POSTGRES_URL;
  if (external) {
    project.provide('postgresUrl', external);
    project.provide('postgresUnavailable', '');
  } else {
    try {
      cluster = await startPostgresCluster();
      project.provide('postgresUrl', cluster.url);
      project.provide('postgresUnavailable', '');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      // Tests decide what this means (fail on CI, skip with this reason locally).
      console.warn(`[test harness] no PostgreSQL for this run: ${reason}`);
      project.provide('postgresUrl', '');
      project.provide('postgresUnavailable', reason);
    }
  }
  return async () => {
    await cluster?.stop();
  };
}
