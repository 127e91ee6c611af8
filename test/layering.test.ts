/**
 * The import rules that keep the security model visible in the code (DESIGN.md, Layout),
 * enforced by dependency-cruiser through scripts/layers/checkLayers.mjs (`npm run
 * lint:layers`): the real tree keeps them, and a tree with one planted violation of each rule
 * fails with that rule's name — through an import, a side-effect import, an export-from, a
 * `require`, a dynamic `import()` and a worker URL, so each way a module can be reached is
 * shown to be seen.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const checker = path.join(root, 'scripts', 'layers', 'checkLayers.mjs');
const ruleNames = (
  createRequire(import.meta.url)('../.dependency-cruiser.cjs') as { forbidden: { name: string }[] }
).forbidden.map((rule) => rule.name);

interface Violation {
  rule: string;
  from: string;
  to: string;
  via: string;
}
interface Report {
  modules: number;
  knownViolationsIgnored: number;
  workerEdges: { from: string; to: string; resolvable: boolean }[];
  violations: Violation[];
}

function checkLayers(treeRoot: string): { status: number | null; report: Report } {
  const run = spawnSync(process.execPath, [checker, '--root', treeRoot, '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (!run.stdout.startsWith('{')) throw new Error(`checkLayers failed:\n${run.stderr}`);
  return { status: run.status, report: JSON.parse(run.stdout) as Report };
}

/** Stubs the planted imports reach, and edges the rules allow (none may be reported). */
const allowed: Record<string, string> = {
  'main/ipc/contract.ts': 'export type Call = { name: string };\nexport const callSchemas = {};\n',
  'main/services/desktopApp.ts': 'export type DesktopApp = { name: string };\n',
  'gateway/recorder/recorder.ts': 'export const recorder = 1;\n',
  'gateway/store/store.ts': 'export const store = 1;\n',
  'gateway/proxy/ssh/sshListener.ts': 'export const listener = 1;\n',
  'gateway/search/searchTerms.ts': 'export const terms = 1;\n',
  'shared/api/apiSchemas.ts': 'export const schemas = 1;\n',
  'test/harness/waitFor.ts': 'export const waitFor = 1;\n',
  'main/index.ts':
    "import { app } from 'electron';\nimport type { Call } from './ipc/contract.ts';\n" +
    'export const entry: [unknown, Call?] = [app];\n',
  'main/preload.ts': "import { contextBridge } from 'electron';\nexport { contextBridge };\n",
  'renderer/src/bridge.ts':
    "import type { Call } from '../../main/ipc/contract.ts';\n" +
    "import { CALL_NAMES } from '../../main/ipc/channels.ts';\n" +
    'export const calls: [readonly string[], Call?] = [CALL_NAMES];\n',
  'renderer/src/bridge.test.ts':
    "import { callSchemas } from '../../main/ipc/contract.ts';\nexport { callSchemas };\n",
  'gateway/api/routes.ts': "export { schemas } from '../../shared/api/apiSchemas.ts';\n",
  'gateway/store/store.test.ts': "export { waitFor } from '../../test/harness/waitFor.ts';\n",
};

/** One offending file per rule, and the violation each must produce. */
const planted: { file: string; source: string; expect: Omit<Violation, 'via'> }[] = [
  {
    file: 'gateway/api/planted.ts',
    source: "import '../../main/services/desktopApp.ts';\n", // side-effect import
    expect: {
      rule: 'gateway-not-to-desktop-or-client',
      from: 'gateway/api/planted.ts',
      to: 'main/services/desktopApp.ts',
    },
  },
  {
    file: 'gateway-client/planted.ts',
    source:
      "import { createRequire } from 'node:module';\n" +
      'const require = createRequire(import.meta.url);\n' +
      "export const recorder = require('../gateway/recorder/recorder.ts');\n",
    expect: {
      rule: 'gateway-client-not-to-gateway-or-desktop',
      from: 'gateway-client/planted.ts',
      to: 'gateway/recorder/recorder.ts',
    },
  },
  {
    file: 'main/services/planted.ts',
    source: "export const load = () => import('../../gateway/store/store.ts');\n",
    expect: {
      rule: 'main-not-to-gateway-or-renderer',
      from: 'main/services/planted.ts',
      to: 'gateway/store/store.ts',
    },
  },
  {
    file: 'renderer/src/plantedService.ts',
    source:
      "import type { DesktopApp } from '../../main/services/desktopApp.ts';\n" +
      'export type App = DesktopApp;\n',
    expect: {
      rule: 'renderer-to-main-only-ipc-contract',
      from: 'renderer/src/plantedService.ts',
      to: 'main/services/desktopApp.ts',
    },
  },
  {
    file: 'renderer/src/plantedContract.ts',
    source: "import { callSchemas } from '../../main/ipc/contract.ts';\nexport { callSchemas };\n",
    expect: {
      rule: 'renderer-contract-types-only',
      from: 'renderer/src/plantedContract.ts',
      to: 'main/ipc/contract.ts',
    },
  },
  {
    file: 'main/ipc/channels.ts',
    source: "import { sep } from 'node:path';\nexport const CALL_NAMES = [sep] as const;\n",
    expect: { rule: 'ipc-channels-import-nothing', from: 'main/ipc/channels.ts', to: 'path' },
  },
  {
    file: 'renderer/src/plantedShared.ts',
    source: "export * from '../../shared/api/apiSchemas.ts';\n",
    expect: {
      rule: 'renderer-not-to-gateway-client-or-shared',
      from: 'renderer/src/plantedShared.ts',
      to: 'shared/api/apiSchemas.ts',
    },
  },
  {
    file: 'main/services/plantedElectron.ts',
    source: "import { app } from 'electron';\nexport const quit = () => app.quit();\n",
    expect: {
      rule: 'only-entry-imports-electron',
      from: 'main/services/plantedElectron.ts',
      to: 'node_modules/electron/index.js',
    },
  },
  {
    file: 'gateway/recorder/plantedWorker.ts',
    source:
      "import { Worker } from 'node:worker_threads';\n" +
      "export const start = () => new Worker(new URL('../proxy/ssh/sshListener.ts', import.meta.url));\n",
    expect: {
      rule: 'recorder-knows-no-protocol',
      from: 'gateway/recorder/plantedWorker.ts',
      to: 'gateway/proxy/ssh/sshListener.ts',
    },
  },
  {
    file: 'gateway/store/plantedSearch.ts',
    source: "export { terms } from '../search/searchTerms.ts';\n",
    expect: {
      rule: 'store-knows-no-transport-or-search',
      from: 'gateway/store/plantedSearch.ts',
      to: 'gateway/search/searchTerms.ts',
    },
  },
  {
    file: 'gateway/store/plantedTransport.ts',
    source: "import net from 'node:net';\nexport const connect = net.connect;\n",
    expect: {
      rule: 'store-knows-no-transport-or-search',
      from: 'gateway/store/plantedTransport.ts',
      to: 'net',
    },
  },
  {
    file: 'shared/recording/planted.ts',
    source:
      "import type { DesktopApp } from '../../main/services/desktopApp.ts';\nexport type A = DesktopApp;\n",
    expect: {
      rule: 'shared-imports-nothing-else',
      from: 'shared/recording/planted.ts',
      to: 'main/services/desktopApp.ts',
    },
  },
  {
    file: 'gateway/planted.ts',
    source: "export { waitFor } from '../test/harness/waitFor.ts';\n",
    expect: {
      rule: 'production-not-to-test-code',
      from: 'gateway/planted.ts',
      to: 'test/harness/waitFor.ts',
    },
  },
  {
    file: 'main/services/plantedMissing.ts',
    source: "import './doesNotExist.ts';\n",
    expect: {
      rule: 'not-to-unresolvable',
      from: 'main/services/plantedMissing.ts',
      to: './doesNotExist.ts',
    },
  },
];

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function treeWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-layers-'));
  tempDirs.push(dir);
  for (const name of [
    'package.json',
    'tsconfig.json',
    '.dependency-cruiser.cjs',
    '.dependency-cruiser-known-violations.json',
  ]) {
    writeFileSync(path.join(dir, name), readFileSync(path.join(root, name)));
  }
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const [file, source] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), source);
  }
  return dir;
}

describe('layering (dependency-cruiser)', () => {
  it('the real tree keeps every rule, TypeScript parsed and worker URLs followed', () => {
    const { status, report } = checkLayers(root);
    expect(report.violations).toEqual([]);
    expect(status).toBe(0);
    // Without a TypeScript parser dependency-cruiser sees only the few .mjs files.
    expect(report.modules).toBeGreaterThan(300);
    expect(report.workerEdges).toContainEqual({
      from: 'main/services/recordings/verifyWorkerFromSource.mjs',
      to: 'main/services/recordings/verifyWorker.ts',
      resolvable: true,
    });
    expect(report.workerEdges).toContainEqual({
      from: 'bin/witness-gateway.mjs',
      to: 'gateway/cli/gatewayCli.ts',
      resolvable: true,
    });
  }, 180_000);

  it('a planted violation of each rule fails with that rule, and allowed edges pass', () => {
    expect(new Set(planted.map((p) => p.expect.rule))).toEqual(new Set(ruleNames));
    const tree = treeWith({
      ...allowed,
      ...Object.fromEntries(planted.map((p) => [p.file, p.source])),
      // A violation listed in the baseline is left out (the real baseline is empty).
      'gateway/store/baselined.ts': "export { terms } from '../search/searchTerms.ts';\n",
      '.dependency-cruiser-known-violations.json': JSON.stringify([
        {
          type: 'dependency',
          from: 'gateway/store/baselined.ts',
          to: 'gateway/search/searchTerms.ts',
          rule: { severity: 'error', name: 'store-knows-no-transport-or-search' },
        },
      ]),
    });
    const { status, report } = checkLayers(tree);
    expect(status).toBe(1);
    const found = report.violations.map(({ rule, from, to }) => ({ rule, from, to }));
    expect(found).toHaveLength(planted.length);
    expect(found).toEqual(expect.arrayContaining(planted.map((p) => p.expect)));
    expect(report.violations.find((v) => v.rule === 'recorder-knows-no-protocol')?.via).toBe(
      'worker-url',
    );
    expect(report.knownViolationsIgnored).toBe(1);
  }, 180_000);
});
