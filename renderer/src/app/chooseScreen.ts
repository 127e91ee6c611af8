/**
 * Which screen the app shows, from AppState and what the person asked for. One place decides,
 * so every combination (local gateway failed but a remote one pinned, a deep link while signed
 * in, …) is covered by a test rather than by scattered conditions in components.
 */
import type { AppState } from '../../../main/ipc/contract.ts';

export type Screen =
  | { kind: 'local-gateway-starting' }
  | { kind: 'local-gateway-failed'; message: string }
  | { kind: 'create-admin' }
  | { kind: 'connect' }
  | { kind: 'enroll'; link: string }
  | { kind: 'sign-in' }
  | { kind: 'workspace' };

/** What the person chose that AppState does not record. */
export interface ScreenIntent {
  /** They opened a witness://enroll link (deep link) or chose "I have an enroll link". */
  enroll: { link: string } | null;
  /**
   * They chose to connect to their organisation's gateway instead of the embedded local one
   * (failed, first run, or its sign-in). Not a call: main replaces the local gateway only when
   * another is pinned — `gateway.forget` would just start the local one again.
   */
  connectElsewhere: boolean;
}

export const NO_INTENT: ScreenIntent = { enroll: null, connectElsewhere: false };

export function chooseScreen(state: AppState, intent: ScreenIntent): Screen {
  // An enroll link is an explicit request: it wins over everything but a signed-in workspace
  // on the same run (there, too, the person asked for it, so it is shown).
  if (intent.enroll !== null) return { kind: 'enroll', link: intent.enroll.link };

  const local = state.localGateway;
  const onLocal = state.gateway === null || state.gateway.isLocal;
  if (onLocal && intent.connectElsewhere && state.account === null) return { kind: 'connect' };
  if (onLocal) {
    if (local.state === 'starting') return { kind: 'local-gateway-starting' };
    if (local.state === 'failed') {
      return {
        kind: 'local-gateway-failed',
        message: local.message ?? 'The local gateway could not start.',
      };
    }
    if (local.state === 'needs-admin') return { kind: 'create-admin' };
  }
  if (state.gateway === null) return { kind: 'connect' };
  if (state.account === null) return { kind: 'sign-in' };
  return { kind: 'workspace' };
}
