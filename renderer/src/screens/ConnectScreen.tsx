/**
 * Connect to a remote gateway: fetch its CA and recording-key fingerprints, let the person
 * compare them with what their admin published, then pin (trust on first use, made explicit).
 */
import { type FormEvent, useState } from 'react';
import type { AppState, CallResponse, DesktopApi } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { SubmitButton } from '../components/SubmitButton.tsx';
import { TextField } from '../components/TextField.tsx';
import { useAction } from '../components/useAction.ts';
import { CardLayout, type ThemeProps } from './CardLayout.tsx';
import { normalizeGatewayUrl } from './formValidation.ts';
import { echoTypedAddress } from './typedAddress.ts';

type Inspected = CallResponse<'gateway.inspect'>;

export function ConnectScreen({
  api,
  onState,
  onEnroll,
  onBack,
  ...theme
}: ThemeProps & {
  api: DesktopApi;
  onState(state: AppState): void;
  onEnroll(): void;
  /** Set when the person came here from the embedded local gateway: go back to it. */
  onBack: (() => void) | null;
}) {
  const [address, setAddress] = useState('');
  const [inspected, setInspected] = useState<Inspected | null>(null);
  const action = useAction();

  const inspect = (event: FormEvent) => {
    event.preventDefault();
    const normalized = normalizeGatewayUrl(address);
    if ('problem' in normalized) {
      action.setError(normalized.problem);
      return;
    }
    setInspected(null);
    action.run(
      async () => {
        setInspected(await api.call('gateway.inspect', { url: normalized.url }));
      },
      (error) => {
        action.setError(echoTypedAddress(describeError(error), normalized.url, address));
        return true;
      },
    );
  };

  const pin = () => {
    if (inspected === null) return;
    action.run(async () => {
      onState(
        await api.call('gateway.pin', {
          url: inspected.url,
          caFingerprint: inspected.caFingerprint,
        }),
      );
    });
  };

  return (
    <CardLayout title="Connect to a gateway" wide {...theme}>
      <p className="muted">
        Enter the address of your organisation's Witness gateway. You will compare its fingerprints
        before Witness trusts it.
      </p>
      <form onSubmit={inspect} noValidate className="inline-form">
        <TextField
          label="Gateway URL"
          value={address}
          onChange={(v) => {
            setAddress(v);
            setInspected(null);
          }}
          placeholder="https://gateway.example.com:8443"
          inputMode="url"
          autoCapitalize="off"
          spellCheck={false}
          required
        />
        <SubmitButton busy={action.busy && inspected === null}>Inspect gateway</SubmitButton>
      </form>
      {inspected === null ? <ErrorAlert message={action.error} /> : null}
      {inspected !== null ? (
        <section aria-labelledby="fingerprints-title" className="fingerprints">
          <h2 id="fingerprints-title">Compare these fingerprints</h2>
          <p>
            Check them against the ones your administrator published (the gateway prints its CA
            fingerprint when it starts). Pin only if they match exactly: from then on Witness
            refuses this gateway if its certificate changes, and verifies recordings against this
            key.
          </p>
          <dl>
            <dt>Gateway</dt>
            <dd>
              <code>{inspected.url}</code>
            </dd>
            <dt>TLS CA fingerprint</dt>
            <dd>
              <code className="fingerprint">{inspected.caFingerprint}</code>
            </dd>
            <dt>Recording key</dt>
            <dd>
              <code>{inspected.recordingKeyId}</code>
            </dd>
            <dt>Recording key fingerprint</dt>
            <dd>
              <code className="fingerprint">{inspected.recordingKeyFingerprint}</code>
            </dd>
          </dl>
          <ErrorAlert message={action.error} />
          <div className="actions">
            <button
              type="button"
              className="button button-primary"
              onClick={pin}
              disabled={action.busy}
            >
              Pin this gateway
            </button>
            <button type="button" className="button" onClick={() => setInspected(null)}>
              Cancel
            </button>
          </div>
        </section>
      ) : null}
      <hr />
      <p className="muted">
        Got an invitation?{' '}
        <button type="button" className="link-button" onClick={onEnroll}>
          Enroll with a link
        </button>{' '}
        — it pins the gateway for you.
      </p>
      {onBack !== null ? (
        <p className="muted">
          <button type="button" className="link-button" onClick={onBack}>
            Back to the local gateway
          </button>
        </p>
      ) : null}
    </CardLayout>
  );
}
