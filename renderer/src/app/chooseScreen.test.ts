import { describe, expect, it } from 'vitest';
import type { AppState } from '../../../main/ipc/contract.ts';
import { chooseScreen, NO_INTENT } from './chooseScreen.ts';

const base: AppState = {
  gateway: null,
  account: null,
  secretStore: { kind: 'keychain', durable: true, notice: null },
  localGateway: { state: 'not-used', message: null, dataDir: null, demoTargets: [] },
};
const remote = {
  url: 'https://gw.example:8443',
  caFingerprint: 'SHA256:ca',
  recordingKeyId: 'k1',
  recordingKeyFingerprint: 'SHA256:rk',
  isLocal: false,
};
const local = { ...remote, url: 'https://127.0.0.1:4000', isLocal: true };
const withLocal = (state: AppState['localGateway']['state'], over: Partial<AppState> = {}) => ({
  ...base,
  localGateway: { ...base.localGateway, state, message: state === 'failed' ? 'port busy' : null },
  ...over,
});
const signedIn = { username: 'alice', role: 'engineer' as const };

describe('chooseScreen', () => {
  it('walks a fresh install through the local gateway: starting, admin, workspace', () => {
    expect(chooseScreen(withLocal('starting'), NO_INTENT).kind).toBe('local-gateway-starting');
    expect(chooseScreen(withLocal('needs-admin', { gateway: local }), NO_INTENT).kind).toBe(
      'create-admin',
    );
    expect(
      chooseScreen(withLocal('ready', { gateway: local, account: signedIn }), NO_INTENT).kind,
    ).toBe('workspace');
  });

  it('shows why the local gateway failed, unless the person chose another gateway', () => {
    expect(chooseScreen(withLocal('failed'), NO_INTENT)).toEqual({
      kind: 'local-gateway-failed',
      message: 'port busy',
    });
    expect(chooseScreen(withLocal('failed'), { ...NO_INTENT, connectElsewhere: true }).kind).toBe(
      'connect',
    );
  });

  it('lets the person leave the local gateway for their organisation’s, until signed in', () => {
    const intent = { ...NO_INTENT, connectElsewhere: true };
    expect(chooseScreen(withLocal('starting'), intent).kind).toBe('connect');
    expect(chooseScreen(withLocal('needs-admin', { gateway: local }), intent).kind).toBe('connect');
    expect(chooseScreen(withLocal('ready', { gateway: local }), intent).kind).toBe('connect');
    // Pinning a remote gateway ends the detour: its sign-in comes next.
    expect(chooseScreen({ ...base, gateway: remote }, intent).kind).toBe('sign-in');
  });

  it('asks to connect with nothing pinned, then to sign in, then opens the workspace', () => {
    expect(chooseScreen(base, NO_INTENT).kind).toBe('connect');
    expect(chooseScreen({ ...base, gateway: remote }, NO_INTENT).kind).toBe('sign-in');
    expect(chooseScreen({ ...base, gateway: remote, account: signedIn }, NO_INTENT).kind).toBe(
      'workspace',
    );
  });

  it('ignores the local gateway state once a remote gateway is pinned', () => {
    const state = withLocal('failed', { gateway: remote, account: signedIn });
    expect(chooseScreen(state, NO_INTENT).kind).toBe('workspace');
  });

  it('shows the enroll screen for an enroll link, with the link', () => {
    const link = 'witness://enroll?gateway=x&token=y&fingerprint=z';
    expect(chooseScreen(base, { ...NO_INTENT, enroll: { link } })).toEqual({
      kind: 'enroll',
      link,
    });
  });
});
