/**
 * Who may import whom (docs/DESIGN.md, Layout): the layering that keeps the security model
 * visible in the code. Checked by `npm run lint:layers` (scripts/layers/checkLayers.mjs), which
 * runs dependency-cruiser with this file and then applies the same rules to worker URLs
 * (`new URL('./x.ts', import.meta.url)`), which dependency-cruiser does not see.
 *
 * Paths are relative to the repository root; npm packages resolve to `node_modules/<name>/…`.
 * Rules apply to tests (`*.test.ts`) and fixtures too, except where a rule says otherwise:
 * - `renderer-contract-types-only`: renderer tests may import the IPC contract at run time
 *   (to check payloads against its schemas);
 * - `production-not-to-test-code`: tests and fixtures may import test/ helpers and fixtures.
 * test/, bench/, bin/ and scripts/ are harnesses and entry points: no rule limits what they
 * import, but nothing else may import test/ or bench/.
 *
 * Edges that break a rule today and are being removed are listed, edge by edge, in
 * `.dependency-cruiser-known-violations.json` (dependency-cruiser's own baseline); the rule
 * itself stays strict, so a new edge of the same kind fails.
 */
const testCode = ['\\.test\\.tsx?$', '(^|/)fixtures/', '^test/', '^bench/'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'gateway-not-to-desktop-or-client',
      comment: 'The gateway imports shared/ and npm packages, never the desktop or the client.',
      severity: 'error',
      from: { path: '^gateway/' },
      to: { path: '^(main|renderer|gateway-client)/' },
    },
    {
      name: 'gateway-client-not-to-gateway-or-desktop',
      comment: 'The CLI, HTTP client and tunnel talk to the gateway over the network only.',
      severity: 'error',
      from: { path: '^gateway-client/' },
      to: { path: '^(gateway|main|renderer)/' },
    },
    {
      name: 'main-not-to-gateway-or-renderer',
      comment:
        'The desktop reaches the gateway only through gateway-client/, so it has no path to ' +
        'the recorder or the store and cannot write history.',
      severity: 'error',
      from: { path: '^main/' },
      to: { path: '^(gateway|renderer)/' },
    },
    {
      name: 'renderer-to-main-only-ipc-contract',
      comment:
        "The renderer may import from main/ only the IPC contract's types (contract.ts) and " +
        'its channel names (channels.ts, plain data with no imports).',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^main/', pathNot: '^main/ipc/(contract|channels)\\.ts$' },
    },
    {
      name: 'renderer-contract-types-only',
      comment: 'contract.ts holds zod schemas; the renderer takes its types, not its code.',
      severity: 'error',
      from: { path: '^renderer/', pathNot: '\\.test\\.tsx?$' },
      to: { path: '^main/ipc/contract\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'ipc-channels-import-nothing',
      comment: 'The renderer and the sandboxed preload load channels.ts: it must stay data.',
      severity: 'error',
      from: { path: '^main/ipc/channels\\.ts$' },
      to: { path: '.' },
    },
    {
      name: 'renderer-not-to-gateway-client-or-shared',
      comment: 'Everything the renderer learns comes through the IPC contract.',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^(gateway|gateway-client|shared)/' },
    },
    {
      name: 'only-entry-imports-electron',
      comment:
        'Only the Electron entry (main/index.ts) and the preload import electron; services ' +
        'stay plain Node and unit-testable.',
      severity: 'error',
      from: { pathNot: '^main/(index|preload)\\.ts$' },
      to: { path: '^node_modules/electron/' },
    },
    {
      name: 'recorder-knows-no-protocol',
      comment: 'The proxies call the recorder, not the other way round.',
      severity: 'error',
      from: { path: '^gateway/recorder/' },
      to: {
        path: '^(gateway/proxy/|shared/postgres/|shared/ssh/|node_modules/(ssh2|pg|pg-protocol|pg-pool)/)',
      },
    },
    {
      name: 'store-knows-no-transport-or-search',
      comment: 'The store persists; it knows neither the HTTP API, the proxies, nor search.',
      severity: 'error',
      from: { path: '^gateway/store/' },
      to: {
        path: [
          '^gateway/(api|proxy|search)/',
          '^node_modules/(fastify|ssh2|ws)/',
          '^(node:)?(http|https|net|tls)$',
        ],
      },
    },
    {
      name: 'shared-imports-nothing-else',
      comment: 'shared/ imports only itself, node builtins and npm packages.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { pathNot: '^(shared/|node_modules/)', dependencyTypesNot: ['core'] },
    },
    {
      name: 'production-not-to-test-code',
      comment: 'Shipped code never imports tests, fixtures, the test harness or benchmarks.',
      severity: 'error',
      from: { pathNot: testCode },
      to: { path: testCode },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import the checker cannot resolve would escape every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: '^node_modules/' },
    exclude: { path: '(^|/)(dist|release)/' },
    // node_modules is a symlink in git worktrees: keep the link's path, not its target's.
    preserveSymlinks: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Keep `import type` edges: the renderer rule depends on telling them apart.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      extensions: ['.ts', '.tsx', '.mts', '.js', '.mjs', '.cjs', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
