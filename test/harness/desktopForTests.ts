/**
 * A desktop (createDesktopApp) opened for a test and driven through the same dispatcher the
 * Electron and web-host transports use, with everything that crosses to the "renderer" kept so
 * the test can search it for tokens.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  type CallName,
  type CallRequest,
  type CallResponse,
  DesktopError,
  type ErrorCode,
  type EventName,
  type EventPayload,
} from '../../main/ipc/contract.ts';
import { createDispatcher } from '../../main/ipc/dispatcher.ts';
import { createDesktopApp, type DesktopApp } from '../../main/services/desktopApp.ts';
import { ENCRYPTED_SECRETS_FILE } from '../../main/services/secretStore.ts';
import type { TestEncryptor } from './testEncryptor.ts';

export interface DesktopForTest {
  app: DesktopApp;
  dir: string;
  call<N extends CallName>(name: N, request: CallRequest<N>): Promise<CallResponse<N>>;
  events: { name: EventName; payload: unknown }[];
  /** The session the desktop stored, read back with the test's encryptor; null when none. */
  storedSession(): Promise<{ refreshToken: string; username: string } | null>;
}

export async function openDesktopForTest(options: {
  dir: string;
  encryptor: TestEncryptor;
  /** Every outcome and event that crossed to a "renderer", serialized, is pushed here. */
  wire: string[];
  clientId?: string;
}): Promise<DesktopForTest> {
  const { dir, encryptor, wire, clientId = 'window-1' } = options;
  const app = await createDesktopApp(
    {
      appDataDir: dir,
      secretStore: 'auto',
      encryptor,
      gatewayBin: '/nonexistent/witness-gateway.mjs',
      useLocalGatewayWhenNoneEnrolled: false,
      log: () => {},
    },
    // The real keychain is tested in main/services/secretStore.test.ts; here the fallback
    // (safeStorage-encrypted file) keeps the stored session readable by the test.
    { openKeychain: async () => ({ unavailable: 'no Secret Service in this test' }) },
  );
  await app.started;
  const events: DesktopForTest['events'] = [];
  const emit = <E extends EventName>(name: E, payload: EventPayload<E>) => {
    events.push({ name, payload });
    wire.push(JSON.stringify({ name, payload }));
  };
  app.onBroadcast(emit);
  const dispatcher = createDispatcher(app.handlers, {
    logUnexpected: (name, error) => {
      throw new Error(`${name} failed unexpectedly: ${String(error)}`);
    },
  });
  return {
    app,
    dir,
    events,
    async call(name, request) {
      const outcome = await dispatcher.dispatch(name, request, { clientId, emit });
      wire.push(JSON.stringify(outcome));
      if (!outcome.ok) throw new DesktopError(outcome.error.code, outcome.error.message);
      return outcome.value as CallResponse<typeof name>;
    },
    async storedSession() {
      let text: string;
      try {
        text = await fs.readFile(path.join(dir, ENCRYPTED_SECRETS_FILE), 'utf8');
      } catch {
        return null; // nothing stored yet
      }
      const secrets: Record<string, string> = JSON.parse(text).secrets;
      const sealed = Object.values(secrets)[0];
      if (!sealed) return null;
      return JSON.parse(encryptor.decrypt(Buffer.from(sealed, 'base64')));
    },
  };
}

/** The DesktopError a call failed with, as the renderer sees it; fails if the call succeeded. */
export async function desktopRejection(
  promise: Promise<unknown>,
): Promise<{ code: ErrorCode; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DesktopError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected the call to fail');
}
