/**
 * The desktop's main-process services composed into one `CallHandlers` for the contract — the
 * piece both composition roots (Electron's main/index.ts and the web host) wire to their
 * transport. Plain Node: Electron-only pieces (safeStorage) arrive through `DesktopPlatform`.
 *
 * It owns the app's state (pinned gateway, signed-in account, secret store, embedded gateway)
 * and broadcasts `app.stateChanged` to every client whenever that changes — including changes
 * nobody asked for, such as a session that expired or the local gateway becoming ready.
 */
import path from 'node:path';
import type { z } from 'zod';
import { fingerprintsEqual } from '../../gateway-client/caPinning.ts';
import { parseEnrollLink } from '../../gateway-client/enrollLink.ts';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import {
  type AppState,
  type CallHandlers,
  DesktopError,
  type EventSender,
  type localGatewayStatusSchema,
} from '../ipc/contract.ts';
import { AccessRequestFeed } from './accessRequests/accessRequestFeed.ts';
import { type RequestNotice, requestNotice } from './accessRequests/accessRequestNotice.ts';
import { createAdminPanelHandlers } from './adminPanel/adminPanelHandlers.ts';
import { createAdminSettingsHandlers } from './adminSettings.ts';
import { createAuditHandlers } from './audit/auditHandlers.ts';
import { gatewayConsoleSessions } from './consoles/gatewayConsoleSessions.ts';
import { QueryConsoleService } from './consoles/queryConsoleService.ts';
import { asDesktopErrors, toDesktopError } from './desktopErrors.ts';
import { DesktopProfileStore } from './desktopProfile.ts';
import type { SecretEncryptor } from './encryptedFileSecretStore.ts';
import { GatewayAccount } from './gatewayAccount.ts';
import { identityFromCa, inspectExpecting, inspectGateway } from './gatewayIdentity.ts';
import { gatewaySessionSource } from './gatewaySessionSource.ts';
import { createIdentityAdminHandlers } from './identityAdmin/identityAdminHandlers.ts';
import { LocalGateway } from './localGateway/localGateway.ts';
import type { PlaybackService } from './recordings/playbackService.ts';
import { createRecordingHandlers } from './recordings/recordingHandlers.ts';
import { verifyRecordingLocally } from './recordingVerdicts.ts';
import { toResourceSummary } from './resourceSummaries.ts';
import { type OpenSecretStoreOptions, openSecretStore } from './secretStore.ts';
import { TerminalService, type TerminalSessionSource } from './terminals/terminalService.ts';
import { createTunnelHandlers } from './tunnels/tunnelHandlers.ts';

export type LocalGatewayStatus = z.infer<typeof localGatewayStatusSchema>;

export interface DesktopPlatform {
  /** Electron `app.getPath('userData')`, or the web host's directory. */
  appDataDir: string;
  /** The web host passes what the user chose; Electron 'auto'. */
  secretStore: 'auto' | 'memory';
  /** Electron `safeStorage`, for the encrypted-file fallback when the keychain is unusable. */
  encryptor?: SecretEncryptor;
  /** bin/witness-gateway.mjs, for the embedded local gateway. */
  gatewayBin: string;
  useLocalGatewayWhenNoneEnrolled: boolean;
  log: (line: string) => void;
  /**
   * Electron: an open dialog for a recording bundle (null when cancelled). Without it (the web
   * host) the renderer uploads the file with `bundles.upload*`.
   */
  chooseBundleFile?: () => Promise<string | null>;
  /**
   * Electron: a save dialog for an export (null when cancelled). Without it (the web host)
   * exports are written to `<appDataDir>/downloads/`.
   */
  chooseExportFile?: (suggestedName: string) => Promise<string | null>;
  /**
   * Electron: a desktop notification (an access request of mine was approved or denied,
   * issue #14). Without it (the web host) the renderer shows its own toast for the
   * `requests.changed` event.
   */
  notify?: (notice: RequestNotice) => void;
  /**
   * Electron: `shell.openExternal`, for an identity provider's sign-in page (issue #18, RFC
   * 8252 §4: the system browser, not a web view the app could read passwords from). Without it
   * (the web host) the calling page gets `account.providerSignInUrl` and opens a tab.
   */
  openExternal?: (url: string) => Promise<void>;
  /** How long a provider sign-in waits for the browser; default 5 minutes (tests shorten it). */
  providerSignInTimeoutMs?: number;
}

export interface DesktopApp {
  handlers: CallHandlers;
  /** app.stateChanged (and anything `broadcast` sends) goes to every listener. */
  onBroadcast(listener: EventSender): () => void;
  /** Sends an event to every client, e.g. `app.deepLink` from Electron's open-url. */
  broadcast: EventSender;
  /** A window or WebSocket went away: its terminals close. */
  clientDisconnected(clientId: string): void;
  /**
   * Settles once start-up work done in the background has finished: the embedded gateway
   * started (or failed) and a stored session resumed (or not). Never rejects.
   */
  started: Promise<void>;
  /** Closes terminals and tunnels, stops the local gateway and its demo targets. */
  dispose(): Promise<void>;
  /** Open playbacks, for tests and bench:replay (waiting for keyframes). */
  playbacks?: PlaybackService;
}

/** LocalGateway (main/services/localGateway/localGateway.ts) as the desktop uses it. */
export interface LocalGatewayPort {
  status(): LocalGatewayStatus;
  onStatusChange(listener: (status: LocalGatewayStatus) => void): () => void;
  start(): Promise<{ url: string; caPem: string; caFingerprint: string }>;
  createAdmin(username: string, password: string): Promise<{ enrollLink: string }>;
  provisionDemoTargets(admin: GatewayClient, adminUserId: string): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalGatewayOptions {
  dataDir: string;
  gatewayBin: string;
  log?: (line: string) => void;
}

/** The terminal side as the app uses it (TerminalService). */
export type TerminalsPort = Pick<
  TerminalService,
  'open' | 'write' | 'resize' | 'ack' | 'close' | 'closeAllFor' | 'closeAll' | 'dispose'
>;

/** Pieces a test may replace; by default the real ones are built. */
export interface DesktopAppParts {
  openKeychain?: OpenSecretStoreOptions['openKeychain'];
  createLocalGateway?: (options: LocalGatewayOptions) => LocalGatewayPort;
  createTerminals?: (sessions: TerminalSessionSource, log: (line: string) => void) => TerminalsPort;
}

/** The embedded gateway's data lives here, under the app's own folder. */
export const LOCAL_GATEWAY_DIR = 'local-gateway';

const notUsed: LocalGatewayStatus = {
  state: 'not-used',
  message: null,
  dataDir: null,
  demoTargets: [],
};

export async function createDesktopApp(
  platform: DesktopPlatform,
  parts: DesktopAppParts = {},
): Promise<DesktopApp> {
  const log = platform.log;
  const listeners = new Set<EventSender>();
  const broadcast: EventSender = (name, payload) => {
    for (const listener of [...listeners]) {
      try {
        listener(name, payload);
      } catch (error) {
        log(`a client could not take ${name}: ${messageOf(error)}`);
      }
    }
  };

  const secrets = await openSecretStore({
    appDataDir: platform.appDataDir,
    choice: platform.secretStore,
    ...(platform.encryptor ? { encryptor: platform.encryptor } : {}),
    ...(parts.openKeychain ? { openKeychain: parts.openKeychain } : {}),
  });
  if (secrets.status.notice) log(secrets.status.notice);
  const profileStore = new DesktopProfileStore(platform.appDataDir);
  const profile = await profileStore.load(log);

  let localGateway: LocalGatewayPort | null = null;
  let localStatus: LocalGatewayStatus = notUsed;
  let localStatusUnsubscribe: (() => void) | null = null;
  let disposed = false;

  const appState = (): AppState => {
    const pinned = account.pinned();
    const user = account.account();
    return {
      gateway: pinned
        ? {
            url: pinned.url,
            caFingerprint: pinned.caFingerprint,
            recordingKeyId: pinned.recordingKeyId,
            recordingKeyFingerprint: pinned.recordingKeyFingerprint,
            isLocal: pinned.isLocal,
          }
        : null,
      account: user ? { username: user.username, role: user.role } : null,
      secretStore: secrets.status,
      localGateway: localStatus,
      lastUsername: pinned ? account.lastUsername() : null,
    };
  };
  const broadcastState = () => {
    if (!disposed) broadcast('app.stateChanged', appState());
    // Whoever is signed in now is the one whose access requests are followed.
    requestFeed?.sync(account.account()?.userId ?? null);
  };

  // Created after the account (it follows as the signed-in user); broadcastState syncs it.
  let requestFeed: AccessRequestFeed | null = null;
  // Terminals are created after the account (they need its session source), but the account's
  // sign-out must close them: hence the late-bound reference.
  let terminals: TerminalsPort | null = null;
  let tunnels: ReturnType<typeof createTunnelHandlers> | null = null;
  let consoles: QueryConsoleService | null = null;
  const account = new GatewayAccount({
    profileStore,
    profile,
    secrets,
    log,
    onSignedOut: async () => {
      await terminals?.closeAll();
      await tunnels?.service.endAll('signed-out');
      await consoles?.closeAll();
    },
    onChange: broadcastState,
  });
  terminals = (
    parts.createTerminals ??
    ((sessions, terminalLog) => new TerminalService({ sessions, log: terminalLog }))
  )(gatewaySessionSource(account), log);
  const terminalService = terminals;
  tunnels = createTunnelHandlers({
    account,
    appDataDir: platform.appDataDir,
    onChange: (list) => {
      if (!disposed) broadcast('tunnels.changed', { tunnels: list });
    },
    log,
  });
  const tunnelService = tunnels.service;
  consoles = new QueryConsoleService({ sessions: gatewayConsoleSessions(account), log });
  const consoleService = consoles;
  requestFeed = new AccessRequestFeed({
    follow: () => account.run((client) => client.followAccessRequests()),
    onEvent: (event) => {
      if (disposed) return;
      broadcast('requests.changed', event);
      const me = account.account();
      const notice = me ? requestNotice(event, me.userId) : null;
      if (notice) platform.notify?.(notice);
    },
    log,
  });
  requestFeed.sync(account.account()?.userId ?? null);
  const adminPanel = createAdminPanelHandlers({ account });
  const recordings = createRecordingHandlers({
    account,
    appDataDir: platform.appDataDir,
    ...(platform.chooseBundleFile ? { chooseOpenFile: platform.chooseBundleFile } : {}),
    ...(platform.chooseExportFile ? { chooseSaveFile: platform.chooseExportFile } : {}),
    log,
  });

  // --- the embedded local gateway ------------------------------------------------------------

  const shouldUseLocalGateway = () => {
    const pinned = account.pinned();
    return platform.useLocalGatewayWhenNoneEnrolled && (pinned === null || pinned.isLocal);
  };

  const startLocalGateway = async (): Promise<void> => {
    if (localGateway || disposed) return;
    const dataDir = path.join(platform.appDataDir, LOCAL_GATEWAY_DIR);
    const create = parts.createLocalGateway ?? defaultLocalGateway;
    const gateway = create({ dataDir, gatewayBin: platform.gatewayBin, log });
    localGateway = gateway;
    localStatusUnsubscribe = gateway.onStatusChange((status) => {
      if (localGateway !== gateway) return;
      localStatus = status;
      broadcastState();
    });
    const starting = gateway.start();
    localStatus = gateway.status();
    broadcastState();
    try {
      const connection = await starting;
      if (localGateway !== gateway) return;
      const identity = await identityFromCa(
        connection.url,
        connection.caPem,
        connection.caFingerprint,
      );
      // Trust comes from having started the process ourselves and read its CA from it, not
      // from the network, so the embedded gateway is (re-)pinned without asking anyone.
      await account.pin(identity, true);
      await account.resume();
    } catch (error) {
      if (localGateway !== gateway) return;
      log(`the embedded local gateway did not start: ${messageOf(error)}`);
      const described = describeForPeople(error);
      localStatus = {
        ...gateway.status(),
        state: 'failed',
        message: `The embedded local gateway could not start: ${described}`,
      };
      broadcastState();
    }
  };

  const stopLocalGateway = async (): Promise<void> => {
    const gateway = localGateway;
    localGateway = null;
    localStatusUnsubscribe?.();
    localStatusUnsubscribe = null;
    localStatus = notUsed;
    if (gateway) {
      try {
        await gateway.stop();
      } catch (error) {
        log(`could not stop the embedded local gateway: ${messageOf(error)}`);
      }
    }
  };

  const startup = (async () => {
    try {
      if (shouldUseLocalGateway()) await startLocalGateway();
      else await account.resume();
    } catch (error) {
      log(`start-up: ${messageOf(error)}`);
    }
  })();

  // --- the calls -----------------------------------------------------------------------------

  const handlers: CallHandlers = {
    'app.getState': async () => appState(),

    'gateway.inspect': async ({ url }) => {
      const identity = await inspectGateway(url);
      return {
        url: identity.url,
        caFingerprint: identity.caFingerprint,
        recordingKeyId: identity.recordingKeyId,
        recordingKeyFingerprint: identity.recordingKeyFingerprint,
      };
    },

    'gateway.pin': async ({ url, caFingerprint }) => {
      const identity = await inspectExpecting(url, caFingerprint, 'the fingerprint you were shown');
      const pinned = account.pinned();
      if (pinned?.isLocal || localGateway) await stopLocalGateway();
      await account.pin(identity, false);
      return appState();
    },

    'gateway.forget': async () => {
      await account.forget();
      await stopLocalGateway();
      broadcastState();
      // Back to a first run: with nothing pinned, the embedded gateway is offered again.
      if (shouldUseLocalGateway()) {
        startLocalGateway().catch((error: unknown) =>
          log(`the embedded local gateway did not start: ${messageOf(error)}`),
        );
      }
      return appState();
    },

    'account.enroll': async ({ link, password }) => {
      const pinned = account.pinned();
      if (pinned?.isLocal) {
        const target = await asDesktopErrors(async () => parseEnrollLink(link).gateway, 'sign-in');
        if (target !== pinned.url) {
          // A link to a real gateway replaces the evaluation one.
          await stopLocalGateway();
          await account.forget();
        }
      }
      await account.enroll(link, password);
      return appState();
    },

    'account.login': async ({ username, password, totpCode }) => {
      await account.login(username, password, totpCode);
      return appState();
    },

    'account.signInOptions': async () => account.signInOptions(),

    'account.signInWithProvider': async ({ provider }, caller) => {
      const openExternal = platform.openExternal;
      await account.signInWithProvider(
        provider,
        openExternal
          ? (url) => openExternal(url)
          : (url) => caller.emit('account.providerSignInUrl', { url }),
        platform.providerSignInTimeoutMs,
      );
      return appState();
    },

    'account.cancelProviderSignIn': async () => {
      account.cancelProviderSignIn();
      return {};
    },

    'account.logout': async () => {
      await account.logout();
      return appState();
    },

    'localGateway.createAdmin': async ({ username, password }) => {
      const gateway = localGateway;
      const pinned = account.pinned();
      if (!gateway || !pinned?.isLocal) {
        throw new DesktopError(
          'no_gateway',
          localStatus.state === 'starting'
            ? 'The embedded local gateway is still starting — try again in a moment.'
            : 'The embedded local gateway is not running, so there is no admin account to create.',
        );
      }
      const { enrollLink } = await asDesktopErrors(
        () => gateway.createAdmin(username, password),
        'sign-in',
      );
      const link = parseEnrollLink(enrollLink);
      if (link.gateway !== pinned.url || !link.fingerprint) {
        throw new DesktopError(
          'internal',
          'The embedded gateway handed out an enrollment link for another address.',
        );
      }
      if (!fingerprintsEqual(link.fingerprint, pinned.caFingerprint)) {
        throw new DesktopError(
          'gateway_certificate_mismatch',
          'The embedded gateway’s enrollment link names another CA than the one it started with.',
        );
      }
      const admin = await account.enroll(enrollLink, password);
      try {
        await account.run((client) => gateway.provisionDemoTargets(client, admin.userId));
      } catch (error) {
        // Signed in either way; the local gateway's status names the targets that failed.
        log(`demo targets: ${messageOf(error)}`);
      }
      broadcastState();
      return appState();
    },

    'resources.list': async () => {
      const resources = await account.run((client) => client.listResources());
      return { resources: resources.map(toResourceSummary) };
    },

    'terminals.open': async (request, caller) => terminalService.open(caller, request),
    'terminals.write': async ({ terminalId, data }, caller) => {
      terminalService.write(caller.clientId, terminalId, data);
      return {};
    },
    'terminals.resize': async ({ terminalId, size }, caller) => {
      terminalService.resize(caller.clientId, terminalId, size);
      return {};
    },
    'terminals.ack': async ({ terminalId, bytes }, caller) => {
      terminalService.ack(caller.clientId, terminalId, bytes);
      return {};
    },
    'terminals.close': async ({ terminalId }, caller) => {
      terminalService.close(caller.clientId, terminalId);
      return {};
    },

    ...tunnels.handlers,
    'consoles.open': async (request, caller) => consoleService.open(caller, request),
    'consoles.run': async ({ consoleId, sql, offset }, caller) =>
      consoleService.run(caller.clientId, consoleId, sql, offset),
    'consoles.cancel': async ({ consoleId }, caller) => {
      await consoleService.cancel(caller.clientId, consoleId);
      return {};
    },
    'consoles.ack': async ({ consoleId, rows }, caller) => {
      consoleService.ack(caller.clientId, consoleId, rows);
      return {};
    },
    'consoles.catalog': async ({ consoleId }, caller) =>
      consoleService.catalog(caller.clientId, consoleId),
    'consoles.close': async ({ consoleId }, caller) => {
      await consoleService.close(caller.clientId, consoleId);
      return {};
    },

    ...recordings.handlers,
    ...createAuditHandlers({
      account,
      appDataDir: platform.appDataDir,
      ...(platform.chooseExportFile ? { chooseSaveFile: platform.chooseExportFile } : {}),
    }),

    ...adminPanel,
    ...createAdminSettingsHandlers((work) => account.run(work)),
    ...createIdentityAdminHandlers((work) => account.run(work)),

    'recordings.verify': async ({ sessionId }) => {
      const pinned = account.pinned();
      if (!pinned) {
        throw new DesktopError('no_gateway', 'No gateway is set up yet.');
      }
      return account.run((client) => verifyRecordingLocally(client, pinned, sessionId));
    },
  };

  return {
    handlers,
    onBroadcast(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    broadcast,
    clientDisconnected(clientId) {
      terminalService.closeAllFor(clientId);
      consoleService.closeAllFor(clientId);
      recordings
        .clientDisconnected(clientId)
        .catch((error: unknown) => log(`closing ${clientId}'s recordings: ${messageOf(error)}`));
    },
    playbacks: recordings.playbacks,
    started: startup,
    async dispose() {
      if (disposed) return;
      disposed = true;
      requestFeed?.stop();
      await terminalService.dispose();
      // Tunnels end with the app (issue #15); their sessions are ended while still signed in.
      await tunnelService.endAll('app-quit');
      await consoleService.dispose();
      await recordings.dispose();
      // Stopping first also ends a start that is still under way, so start-up cannot hang this.
      await stopLocalGateway();
      await startup;
      account.dispose();
      listeners.clear();
    },
  };
}

const defaultLocalGateway = (options: LocalGatewayOptions): LocalGatewayPort =>
  new LocalGateway(options);

/** A DesktopError's message is written for people; anything else is summarised. */
function describeForPeople(error: unknown): string {
  try {
    return toDesktopError(error).message;
  } catch {
    return messageOf(error);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
