#!/usr/bin/env node
/**
 * `npm run lint:layers`: checks who may import whom (.dependency-cruiser.cjs) on a source tree.
 *
 * 1. dependency-cruiser resolves every import, export-from, side-effect import, `require()`
 *    and literal `import()` with the project's tsconfig and applies the rules, leaving out the
 *    edges listed in .dependency-cruiser-known-violations.json.
 * 2. Worker URLs — `new URL('./worker.ts', import.meta.url)`, how this project starts worker
 *    threads and child scripts — are not imports, so dependency-cruiser does not see them.
 *    This script finds them in each cruised file's syntax tree, resolves them, and applies the
 *    same rules (workerUrlRules.mjs) to those edges.
 *
 * Usage: node scripts/layers/checkLayers.mjs [--root DIR] [--json]
 * Exits 1 when any rule is broken; --json prints the findings as one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerUrlViolations } from './workerUrlRules.mjs';
import { findWorkerUrls } from './workerUrls.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, '../..');
const SOURCE_DIRS = [
  'bench',
  'bin',
  'gateway',
  'gateway-client',
  'main',
  'renderer',
  'scripts',
  'shared',
  'test',
];
const KNOWN = '.dependency-cruiser-known-violations.json';

function parseArgs(argv) {
  const args = { root: projectRoot, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') args.root = path.resolve(argv[++i] ?? '.');
    else if (argv[i] === '--json') args.json = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

/** Runs dependency-cruiser's own command line on `root`; returns its JSON result. */
function cruise(root) {
  // The package exports only its API (src/main/index.mjs); its command line is bin/.
  const api = fileURLToPath(import.meta.resolve('dependency-cruiser'));
  const cli = path.resolve(path.dirname(api), '../../bin/dependency-cruise.mjs');
  const dirs = SOURCE_DIRS.filter((dir) => existsSync(path.join(root, dir)));
  const known = existsSync(path.join(root, KNOWN)) ? ['--ignore-known', KNOWN] : [];
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      path.join(here, 'typescript6ForCruiser.mjs'),
      cli,
      '--config',
      '.dependency-cruiser.cjs',
      ...known,
      '--output-type',
      'json',
      ...dirs,
    ],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  if (run.error) throw run.error;
  // dependency-cruiser exits non-zero when rules are broken; only missing output is a failure.
  if (!run.stdout.trim().startsWith('{')) {
    throw new Error(`dependency-cruiser failed (exit ${run.status}):\n${run.stderr}`);
  }
  return JSON.parse(run.stdout);
}

export function checkLayers(root) {
  const result = cruise(root);
  const config = createRequire(path.join(root, 'package.json'))(
    path.join(root, '.dependency-cruiser.cjs'),
  );
  const knownPath = path.join(root, KNOWN);
  const known = existsSync(knownPath) ? JSON.parse(readFileSync(knownPath, 'utf8')) : [];

  const violations = result.summary.violations
    .filter((v) => v.rule.severity !== 'ignore')
    .map((v) => ({
      rule: v.rule.name,
      from: v.from,
      to: v.to,
      via: (v.dependencyTypes ?? []).join(','),
    }));

  const sources = result.modules
    .filter((m) => !m.couldNotResolve && !m.coreModule && !m.source.startsWith('node_modules/'))
    .map((m) => m.source)
    .filter((source) => /\.(ts|tsx|mts|cts|js|mjs|cjs)$/.test(source));
  const workerEdges = sources.flatMap((source) => findWorkerUrls(root, source));
  violations.push(...workerUrlViolations(config.forbidden, workerEdges, known));

  return {
    modules: result.summary.totalCruised,
    dependencies: result.summary.totalDependenciesCruised,
    knownViolationsIgnored: result.summary.ignore ?? 0,
    workerEdges,
    violations,
  };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const report = checkLayers(args.root);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const v of report.violations)
      console.error(`  error ${v.rule}: ${v.from} → ${v.to} (${v.via})`);
    console.log(
      `layers: ${report.violations.length} violations; ${report.modules} modules, ` +
        `${report.dependencies} dependencies and ${report.workerEdges.length} worker URLs checked` +
        (report.knownViolationsIgnored
          ? `, ${report.knownViolationsIgnored} known violations left out (${KNOWN})`
          : ''),
    );
  }
  process.exitCode = report.violations.length > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
