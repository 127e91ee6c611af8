/**
 * Renderer entry: reach main (the Electron preload's window.witness, or the web host's
 * WebSocket), then render. If the web host goes away later, say so over whatever is shown.
 */
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { DesktopApi } from '../../main/ipc/contract.ts';
import { App } from './App.tsx';
import { describeError } from './components/describeError.ts';
import { getDesktopApi, onDesktopApiClosed } from './desktopApi/getDesktopApi.ts';
import { StatusScreen } from './screens/StatusScreen.tsx';
import { useTheme } from './theme/useTheme.ts';
import './styles.css';

function Root() {
  const [api, setApi] = useState<DesktopApi | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [closed, setClosed] = useState<string | null>(null);
  const { theme, toggleTheme } = useTheme();

  useEffect(() => {
    const off = onDesktopApiClosed(setClosed);
    getDesktopApi()
      .then(setApi)
      .catch((e: unknown) => setError(describeError(e)));
    return off;
  }, []);

  if (api === null) {
    return (
      <StatusScreen
        theme={theme}
        onToggleTheme={toggleTheme}
        title={error === null ? 'Starting Witness' : 'Witness could not start'}
        error={error}
      />
    );
  }
  return (
    <>
      {closed !== null ? (
        <div role="alert" className="alert alert-error connection-lost">
          {closed}
        </div>
      ) : null}
      <App api={api} />
    </>
  );
}

const container = document.getElementById('root');
if (container === null) throw new Error('index.html has no #root element');
createRoot(container).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
