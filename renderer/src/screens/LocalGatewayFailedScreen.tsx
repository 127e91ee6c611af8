import type { AppState } from '../../../main/ipc/contract.ts';
import { CardLayout, type ThemeProps } from './CardLayout.tsx';

export function LocalGatewayFailedScreen({
  message,
  localGateway,
  onConnectElsewhere,
  onEnroll,
  ...theme
}: ThemeProps & {
  message: string;
  localGateway: AppState['localGateway'];
  onConnectElsewhere(): void;
  onEnroll(): void;
}) {
  return (
    <CardLayout title="The local gateway could not start" {...theme}>
      <div role="alert" className="alert alert-error">
        {message}
      </div>
      <h2>What to do</h2>
      <ul className="steps">
        <li>
          Restart Witness to try again (in a terminal: <code>npm start</code>).
        </li>
        {localGateway.dataDir ? (
          <li>
            Check that the data folder <code>{localGateway.dataDir}</code> is writable and not in
            use by another copy of Witness.
          </li>
        ) : null}
        <li>Or use your organisation's gateway instead: connect to it, or enroll with a link.</li>
      </ul>
      <div className="actions">
        <button type="button" className="button button-primary" onClick={onConnectElsewhere}>
          Connect to a gateway
        </button>
        <button type="button" className="button" onClick={onEnroll}>
          Enroll with a link
        </button>
      </div>
    </CardLayout>
  );
}
