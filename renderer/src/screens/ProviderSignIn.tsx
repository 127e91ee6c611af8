/**
 * "Sign in with <provider>" (issue #18). Main runs the whole RFC 8252 flow and keeps the code,
 * the PKCE verifier and the tokens; this screen only asks for it and shows the outcome. In the
 * web host main hands back the gateway's start URL (`account.providerSignInUrl`) for this page
 * to open, since only the page can open a tab in the person's browser; the URL is not a secret.
 */
import { useEffect, useState } from 'react';
import type { AppState, DesktopApi } from '../../../main/ipc/contract.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { useAction } from '../components/useAction.ts';
import { isDesktopError } from '../desktopApi/getDesktopApi.ts';

interface Provider {
  name: string;
  displayName: string;
}

export function ProviderSignIn({
  api,
  onState,
}: {
  api: DesktopApi;
  onState(state: AppState): void;
}) {
  const [providers, setProviders] = useState<Provider[]>([]);
  const [signInUrl, setSignInUrl] = useState<string | null>(null);
  const [pending, setPending] = useState<Provider | null>(null);
  const action = useAction();

  useEffect(() => {
    let live = true;
    // A gateway that cannot list providers (an older one, or unreachable) still takes passwords.
    api.call('account.signInOptions', {}).then(
      ({ providers }) => {
        if (live) setProviders(providers);
      },
      () => {},
    );
    return () => {
      live = false;
    };
  }, [api]);

  useEffect(
    () =>
      api.on('account.providerSignInUrl', ({ url }) => {
        setSignInUrl(url);
        // Still within the click's user activation, so not a blocked pop-up; the link below
        // is there for a browser that blocks it anyway.
        window.open(url, '_blank', 'noopener');
      }),
    [api],
  );

  if (providers.length === 0) return null;
  const signIn = (provider: Provider) => {
    setPending(provider);
    setSignInUrl(null);
    action.run(
      async () => {
        try {
          onState(await api.call('account.signInWithProvider', { provider: provider.name }));
        } finally {
          setPending(null);
          setSignInUrl(null);
        }
      },
      // Cancelled here: nothing to report.
      (error) => isDesktopError(error) && error.code === 'cancelled',
    );
  };

  return (
    <div className="provider-sign-in">
      {providers.map((provider) => (
        <button
          key={provider.name}
          type="button"
          className="button provider-button"
          disabled={action.busy}
          onClick={() => signIn(provider)}
        >
          Sign in with {provider.displayName}
        </button>
      ))}
      {pending ? (
        <p role="status" className="muted">
          Finish signing in with {pending.displayName} in your browser.
          {signInUrl ? (
            <>
              {' '}
              If no page opened,{' '}
              <a href={signInUrl} target="_blank" rel="noopener noreferrer">
                open the sign-in page
              </a>
              .
            </>
          ) : null}{' '}
          <button
            type="button"
            className="link-button"
            onClick={() => {
              api.call('account.cancelProviderSignIn', {}).catch(() => {});
            }}
          >
            Cancel
          </button>
        </p>
      ) : null}
      <ErrorAlert message={action.error} />
    </div>
  );
}
