/**
 * The app shell: holds AppState (from `app.getState`, kept current by `app.stateChanged`) and
 * shows the screen chooseScreen picks. Calls that change state return the new AppState, which
 * is applied at once rather than waiting for the broadcast.
 */
import { useCallback, useEffect, useState } from 'react';
import type { AppState, DesktopApi } from '../../main/ipc/contract.ts';
import { chooseScreen, NO_INTENT, type ScreenIntent } from './app/chooseScreen.ts';
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

  useEffect(() => {
    // Subscribe first, so a change between the two is not missed.
    const offState = api.on('app.stateChanged', setState);
    const offLink = api.on('app.deepLink', (link) => {
      setIntent((current) => ({ ...current, enroll: { link: link.link } }));
    });
    api
      .call('app.getState', {})
      .then(setState)
      .catch((error: unknown) => setLoadError(describeError(error)));
    return () => {
      offState();
      offLink();
    };
  }, [api]);

  /** A call answered with the new state: show it, and drop a finished enroll intent. */
  const applyState = useCallback((next: AppState) => {
    setState(next);
    setIntent(NO_INTENT);
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
  const startEnroll = () => setIntent((current) => ({ ...current, enroll: { link: '' } }));
  switch (screen.kind) {
    case 'local-gateway-starting':
      return <LocalGatewayStartingScreen {...themeProps} localGateway={state.localGateway} />;
    case 'local-gateway-failed':
      return (
        <LocalGatewayFailedScreen
          {...themeProps}
          message={screen.message}
          localGateway={state.localGateway}
          onConnectElsewhere={() =>
            setIntent((current) => ({ ...current, connectElsewhere: true }))
          }
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
        />
      );
    case 'connect':
      return (
        <ConnectScreen {...themeProps} api={api} onState={applyState} onEnroll={startEnroll} />
      );
    case 'enroll':
      return (
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
    case 'sign-in':
      return (
        <SignInScreen
          {...themeProps}
          api={api}
          state={state}
          onState={applyState}
          onEnroll={startEnroll}
        />
      );
    case 'workspace':
      return (
        <Workspace
          api={api}
          state={state}
          theme={theme}
          onToggleTheme={toggleTheme}
          onState={applyState}
        />
      );
  }
}
