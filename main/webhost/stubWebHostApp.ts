/**
 * A WebHostApp for tests of the transport alone (CONVENTIONS: fakes beside the module). Every
 * call records what it received; `app.getState` answers with an extra `accessToken` field the
 * contract does not declare, so a test can see the dispatcher strip it.
 */
import type { AppState, CallerContext, CallHandlers, EventSender } from '../ipc/contract.ts';
import { DesktopError } from '../ipc/contract.ts';
import type { WebHostApp } from './server.ts';

export const stubState: AppState = {
  gateway: null,
  account: null,
  secretStore: { kind: 'memory', durable: false, notice: 'Kept in memory only.' },
  lastUsername: null,
  localGateway: { state: 'not-used', message: null, dataDir: null, demoTargets: [] },
};

export interface StubWebHostApp extends WebHostApp {
  calls: { name: string; request: unknown; clientId: string }[];
  callers: Map<string, CallerContext>;
  disconnected: string[];
  disposed: boolean;
  broadcast: EventSender;
}

export function createStubWebHostApp(): StubWebHostApp {
  const broadcastListeners = new Set<EventSender>();
  const notSignedIn = () => Promise.reject(new DesktopError('not_signed_in', 'Sign in first.'));
  const stub: StubWebHostApp = {
    calls: [],
    callers: new Map(),
    disconnected: [],
    disposed: false,
    broadcast: (name, payload) => {
      for (const listener of broadcastListeners) listener(name, payload);
    },
    // Filled below: each handler records the call, then answers.
    handlers: {} as CallHandlers,
    onBroadcast(listener) {
      broadcastListeners.add(listener);
      return () => broadcastListeners.delete(listener);
    },
    clientDisconnected(clientId) {
      stub.disconnected.push(clientId);
    },
    async dispose() {
      stub.disposed = true;
    },
  };
  const record = (name: string, request: unknown, caller: CallerContext) => {
    stub.calls.push({ name, request, clientId: caller.clientId });
    stub.callers.set(caller.clientId, caller);
  };
  stub.handlers = {
    'app.getState': async (request, caller) => {
      record('app.getState', request, caller);
      // Not in the contract: the dispatcher must drop it.
      return { ...stubState, accessToken: 'stub-access-token' } as AppState;
    },
    'gateway.inspect': notSignedIn,
    'gateway.pin': notSignedIn,
    'gateway.forget': notSignedIn,
    'account.enroll': notSignedIn,
    'account.login': async (request, caller) => {
      record('account.login', request, caller);
      throw new DesktopError('wrong_credentials', 'Wrong username or password.');
    },
    'account.logout': notSignedIn,
    'account.signInOptions': async () => ({ providers: [] }),
    'account.signInWithProvider': notSignedIn,
    'account.cancelProviderSignIn': async () => ({}),
    'admin.identityProviders.list': notSignedIn,
    'admin.identityProviders.save': notSignedIn,
    'admin.identityProviders.delete': notSignedIn,
    'admin.machineIdentities.list': notSignedIn,
    'admin.machineIdentities.create': notSignedIn,
    'admin.machineIdentities.delete': notSignedIn,
    'localGateway.createAdmin': notSignedIn,
    'resources.list': notSignedIn,
    'admin.resources.list': notSignedIn,
    'admin.resources.save': notSignedIn,
    'admin.resources.delete': notSignedIn,
    'admin.resources.test': notSignedIn,
    'admin.resources.scanHostKey': notSignedIn,
    'admin.policies.list': notSignedIn,
    'admin.policies.save': notSignedIn,
    'admin.policies.try': notSignedIn,
    'terminals.open': notSignedIn,
    'terminals.write': async (request, caller) => {
      record('terminals.write', request, caller);
      // Echo to the caller only, the way a terminal's output goes to the window that opened it.
      caller.emit('terminal.data', {
        terminalId: request.terminalId,
        data: request.data,
        bytes: request.data.length,
      });
      return {};
    },
    'terminals.resize': notSignedIn,
    'terminals.ack': notSignedIn,
    'terminals.close': notSignedIn,
    'consoles.open': notSignedIn,
    'consoles.run': notSignedIn,
    'consoles.cancel': notSignedIn,
    'consoles.ack': notSignedIn,
    'consoles.catalog': notSignedIn,
    'consoles.close': notSignedIn,
    'recordings.list': notSignedIn,
    'recordings.verify': async () => {
      throw new Error('stub: an unexpected failure with /secret/details');
    },
    'recordings.search': notSignedIn,
    'recordings.problems': notSignedIn,
    'recordings.open': notSignedIn,
    'recordings.openBundle': notSignedIn,
    'bundles.uploadBegin': notSignedIn,
    'bundles.uploadChunk': notSignedIn,
    'bundles.uploadCancel': notSignedIn,
    'playback.frames': notSignedIn,
    'playback.seek': notSignedIn,
    'playback.queries': notSignedIn,
    'playback.close': notSignedIn,
    'recordings.export': notSignedIn,
    'recordings.cancelExport': notSignedIn,
    'live.watch': notSignedIn,
    'live.stop': notSignedIn,
    // --- admins' settings panel (issue #14, branch panel)
    'users.list': notSignedIn,
    'users.create': notSignedIn,
    'users.disable': notSignedIn,
    'users.enable': notSignedIn,
    'users.setRole': notSignedIn,
    'users.reset': notSignedIn,
    'groups.list': notSignedIn,
    'groups.addMember': notSignedIn,
    'groups.removeMember': notSignedIn,
    'grants.list': notSignedIn,
    'grants.create': notSignedIn,
    'grants.update': notSignedIn,
    'grants.delete': notSignedIn,
    'requests.create': notSignedIn,
    'requests.list': notSignedIn,
    'requests.approve': notSignedIn,
    'requests.deny': notSignedIn,
    'sessions.listLive': notSignedIn,
    'sessions.terminate': notSignedIn,
    'audit.list': notSignedIn,
    'audit.verify': notSignedIn,
    'audit.export': notSignedIn,
    // --- tunnels and database certificates (issue #15, branch tunnels)
    'tunnels.list': notSignedIn,
    'tunnels.open': notSignedIn,
    'tunnels.close': notSignedIn,
    'tunnels.rememberedPort': notSignedIn,
    'dbCertificates.create': notSignedIn,
  };
  return stub;
}
