#!/usr/bin/env node
/**
 * `npm test` runs this first (the `pretest` script), and .ci/run runs it before `npm ci`:
 * the system packages the suite needs and npm cannot ship (scripts/prerequisites/packages.mjs)
 * are checked; run as root where apt-get exists (Debian), the missing ones are installed,
 * printing what it does; otherwise it fails, printing the one command that installs them.
 * Everything else comes from npm (package.json).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_PREREQUISITES } from './prerequisites/packages.mjs';
import { missingPrerequisites, planPrerequisites } from './prerequisites/plan.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function onPath(command) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const probe = { fileExists: existsSync, onPath };
const describe = (missing) => missing.map((m) => `  - ${m.pkg}: ${m.why}`).join('\n');

function run(argv) {
  console.log(`[test prerequisites] $ ${argv.join(' ')}`);
  const result = spawnSync(argv[0], argv.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0) {
    throw new Error(`${argv.join(' ')} failed (exit ${result.status ?? result.signal})`);
  }
}

/** keytar is optional in npm: where libsecret was missing at `npm install`, npm left it out. */
function keytarLoads() {
  const loaded = spawnSync(process.execPath, ['-e', "require('keytar')"], { cwd: root });
  return loaded.status === 0;
}

function main() {
  const missing = missingPrerequisites(TEST_PREREQUISITES, probe);
  const plan = planPrerequisites(missing, {
    isRoot: process.getuid?.() === 0,
    hasAptGet: onPath('apt-get'),
  });
  if (plan.action === 'instruct') {
    console.error(
      `[test prerequisites] the test suite needs system packages that are not installed:\n` +
        `${describe(missing)}\nInstall them with:\n\n  ${plan.command}\n`,
    );
    process.exit(1);
  }
  if (plan.action === 'install') {
    console.log(`[test prerequisites] installing what the test suite needs:\n${describe(missing)}`);
    for (const command of plan.commands) run(command);
    const still = missingPrerequisites(TEST_PREREQUISITES, probe);
    if (still.length > 0) {
      console.error(`[test prerequisites] still missing after apt-get:\n${describe(still)}`);
      process.exit(1);
    }
  }
  // Before `npm ci` (.ci/run) there is nothing to load yet; npm ci then builds keytar.
  if (existsSync(path.join(root, 'node_modules')) && !keytarLoads()) {
    console.log('[test prerequisites] keytar is not built (libsecret was missing at npm install)');
    run(['npm', 'install', '--no-audit', '--no-fund']);
  }
  console.log(`[test prerequisites] ${TEST_PREREQUISITES.length} system packages present`);
}

main();
