/**
 * The app shell: holds AppState (from `app.getState`, kept current by `app.stateChanged`) and
 * shows the screen chooseScreen picks. Calls that change state return the new AppState, which
 * is applied at once rather than waiting for the broadcast.
 */
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import type { AppState, DesktopApi } from '../../main/ipc/contract.ts';
import { chooseScreen, NO_INTENT, type ScreenIntent } from './app/chooseScreen.ts';
import {
  type AccessEnd,
  accessEndOf,
  signedOutNotice as explainSignOut,
} from './app/signedOutNotice.ts';
import { describeError } from './components/describeError.ts';
import { ConnectScreen } from './screens/ConnectScreen.tsx';
import { CreateAdminScreen } from './screens/CreateAdminScreen.tsx';
import { EnrollScreen } from './screens/EnrollScreen.tsx';
import { LocalGatewayFailedScreen } from './screens/LocalGatewayFailedScreen.tsx';
import { LocalGatewayStartingScreen } from './screens/LocalGatewayStartingScreen.tsx';
import { SignInScreen } from './screens/SignInScreen.tsx';
import { StatusScreen } from './screens/StatusScreen.tsx';
import { useTheme } from './theme/useTheme.ts';
import { Workspace } from './workspace/Workspace.tsx';

export function App({ api }: { api: DesktopApi }) {
  const { theme, toggleTheme } = useTheme();
  const [state, setState] = useState<AppState | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [intent, setIntent] = useState<ScreenIntent>(NO_INTENT);
  /** Set when main signed the user out (refresh token expired or revoked), not the user. */
  const [signedOutNotice, setSignedOutNotice] = useState<string | null>(null);
  const signedIn = useRef(false);
  /** The last terminal the gateway ended because access was taken away (issue #14). */
  const lastAccessEnd = useRef<AccessEnd | null>(null);

  /** Every new AppState passes here, to notice a sign-out nobody asked for. */
  const receiveState = useCallback((next: AppState, byUser: boolean) => {
    if (signedIn.current && next.account === null && next.gateway !== null && !byUser) {
      setSignedOutNotice(explainSignOut(lastAccessEnd.current, Date.now()));
    }
    if (next.account !== null) setSignedOutNotice(null);
    signedIn.current = next.account !== null;
    setState(next);
  }, []);

  useEffect(() => {
    // Subscribe first, so a change between the two is not missed.
    const offState = api.on('app.stateChanged', (next) => receiveState(next, false));
    const offEnded = api.on('terminal.ended', ({ reason }) => {
      lastAccessEnd.current = accessEndOf(reason, Date.now()) ?? lastAccessEnd.current;
    });
    const offLink = api.on('app.deepLink', (link) => {
      setIntent((current) => ({ ...current, enroll: { link: link.link } }));
    });
    api
      .call('app.getState', {})
      .then((next) => receiveState(next, false))
      .catch((error: unknown) => setLoadError(describeError(error)));
    return () => {
      offState();
      offEnded();
      offLink();
    };
  }, [api, receiveState]);

  /** A call answered with the new state: show it, and drop a finished enroll intent. */
  const applyState = useCallback(
    (next: AppState) => {
      receiveState(next, true);
      setIntent(NO_INTENT);
    },
    [receiveState],
  );

  /**
   * Sign-out and unpin are the user's own acts: mark them before the call, because main's
   * stateChanged broadcast can arrive before the call's answer.
   */
  const userSignsOut = useCallback(() => {
    signedIn.current = false;
  }, []);

  const themeProps = { theme, onToggleTheme: toggleTheme };
  if (state === null) {
    return (
      <StatusScreen
        {...themeProps}
        title={loadError === null ? 'Starting Witness' : 'Witness could not start'}
        error={loadError}
      />
    );
  }

  const screen = chooseScreen(state, intent);
  /**
   * The workspace, with whatever covers it. It keeps one place in the tree whether or not a
   * deep-linked enroll screen is shown over it, so React never remounts it — its open terminals
   * survive if the person goes Back.
   */
  const workspace = (cover: ReactNode) => (
    <>
      <div className="workspace-host" hidden={cover !== null}>
        <Workspace
          api={api}
          state={state}
          theme={theme}
          active={cover === null}
          onToggleTheme={toggleTheme}
          onSigningOut={userSignsOut}
          onState={applyState}
        />
      </div>
      {cover}
    </>
  );
  const startEnroll = () => setIntent((current) => ({ ...current, enroll: { link: '' } }));
  const connectElsewhere = () => setIntent((current) => ({ ...current, connectElsewhere: true }));
  switch (screen.kind) {
    case 'local-gateway-starting':
      return <LocalGatewayStartingScreen {...themeProps} localGateway={state.localGateway} />;
    case 'local-gateway-failed':
      return (
        <LocalGatewayFailedScreen
          {...themeProps}
          message={screen.message}
          localGateway={state.localGateway}
          onConnectElsewhere={connectElsewhere}
          onEnroll={startEnroll}
        />
      );
    case 'create-admin':
      return (
        <CreateAdminScreen
          {...themeProps}
          api={api}
          localGateway={state.localGateway}
          onState={applyState}
          onConnectElsewhere={connectElsewhere}
        />
      );
    case 'connect':
      return (
        <ConnectScreen
          {...themeProps}
          api={api}
          onState={applyState}
          onEnroll={startEnroll}
          onBack={
            intent.connectElsewhere
              ? () => setIntent((current) => ({ ...current, connectElsewhere: false }))
              : null
          }
        />
      );
    case 'enroll': {
      const enroll = (
        <EnrollScreen
          {...themeProps}
          // A new deep link replaces the form (and what was typed into it).
          key={screen.link}
          api={api}
          initialLink={screen.link}
          onState={applyState}
          onCancel={() => setIntent((current) => ({ ...current, enroll: null }))}
        />
      );
      return chooseScreen(state, NO_INTENT).kind === 'workspace' ? workspace(enroll) : enroll;
    }
    case 'sign-in':
      return (
        <SignInScreen
          {...themeProps}
          api={api}
          state={state}
          notice={signedOutNotice}
          onState={applyState}
          onSigningOut={userSignsOut}
          onEnroll={startEnroll}
          onConnectElsewhere={connectElsewhere}
        />
      );
    case 'workspace':
      return workspace(null);
  }
}
