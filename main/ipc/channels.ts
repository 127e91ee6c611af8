/**
 * The names of every IPC call and event, as plain data with no imports, so the sandboxed
 * preload (which cannot load zod) and the web host's browser bridge can refuse anything not in
 * the contract. `contract.ts` checks at compile time that its schema maps have exactly these
 * keys, so a name cannot be added in one place and forgotten in the other.
 */
export const CALL_NAMES = [
  'app.getState',
  'gateway.inspect',
  'gateway.pin',
  'gateway.forget',
  'account.enroll',
  'account.login',
  'account.logout',
  'localGateway.createAdmin',
  'resources.list',
  'terminals.open',
  'terminals.write',
  'terminals.resize',
  'terminals.ack',
  'terminals.close',
  'consoles.open',
  'consoles.run',
  'consoles.cancel',
  'consoles.ack',
  'consoles.catalog',
  'consoles.close',
  'recordings.list',
  'recordings.verify',
  'recordings.problems',
  'recordings.search',
  'recordings.open',
  'recordings.openBundle',
  'bundles.uploadBegin',
  'bundles.uploadChunk',
  'bundles.uploadCancel',
  'playback.frames',
  'playback.seek',
  'playback.queries',
  'playback.close',
  'recordings.export',
  'recordings.cancelExport',
  'live.watch',
  'live.stop',
  // --- admins' settings panel and access requests (issue #14, branch panel)
  'users.list',
  'users.create',
  'users.disable',
  'users.enable',
  'users.setRole',
  'users.reset',
  'groups.list',
  'groups.addMember',
  'groups.removeMember',
  'grants.list',
  'grants.create',
  'grants.update',
  'grants.delete',
  'requests.create',
  'requests.list',
  'requests.approve',
  'requests.deny',
  'sessions.listLive',
  'sessions.terminate',
  'admin.resources.list',
  'admin.resources.save',
  'admin.resources.delete',
  'admin.resources.test',
  'admin.resources.scanHostKey',
  'admin.policies.list',
  'admin.policies.save',
  'admin.policies.try',
  'audit.list',
  'audit.verify',
  'audit.export',
  // --- tunnels and database certificates in the desktop (issue #15, branch tunnels)
  'tunnels.list',
  'tunnels.open',
  'tunnels.close',
  'tunnels.rememberedPort',
  'dbCertificates.create',
  // --- sign-in with an identity provider (issue #18, branch oidcdesk)
  'account.signInOptions',
  'account.signInWithProvider',
  'account.cancelProviderSignIn',
  'admin.identityProviders.list',
  'admin.identityProviders.save',
  'admin.identityProviders.delete',
  'admin.machineIdentities.list',
  'admin.machineIdentities.create',
  'admin.machineIdentities.delete',
] as const;

export const EVENT_NAMES = [
  'app.stateChanged',
  'app.deepLink',
  'terminal.data',
  'terminal.ended',
  'console.event',
  'playback.progress',
  'playback.updated',
  'export.progress',
  'live.frames',
  'live.queries',
  'live.ended',
  // --- access requests (issue #14, branch panel)
  'requests.changed',
  // --- tunnels in the desktop (issue #15, branch tunnels)
  'tunnels.changed',
  // --- sign-in with an identity provider (issue #18, branch oidcdesk)
  'account.providerSignInUrl',
] as const;

export type CallName = (typeof CALL_NAMES)[number];
export type EventName = (typeof EVENT_NAMES)[number];

const callNameSet: ReadonlySet<string> = new Set(CALL_NAMES);
const eventNameSet: ReadonlySet<string> = new Set(EVENT_NAMES);

export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && callNameSet.has(name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && eventNameSet.has(name);
}

/** Electron channel names, prefixed by recipient (Teleport's habit): `main:` calls, `renderer:` events. */
export const callChannel = (name: CallName) => `main:${name}`;
export const eventChannel = (name: EventName) => `renderer:${name}`;
