import type { AppState } from '../../../main/ipc/contract.ts';
import { CardLayout, type ThemeProps } from './CardLayout.tsx';

export function LocalGatewayStartingScreen({
  localGateway,
  ...theme
}: ThemeProps & { localGateway: AppState['localGateway'] }) {
  return (
    <CardLayout title="Starting the local gateway" {...theme}>
      <div role="status" className="starting">
        <progress aria-label="Starting the local gateway" />
        <p>
          Witness is starting a gateway on this computer so you can try it without a server. The
          first start creates its database and signing keys; it takes a few seconds.
        </p>
      </div>
      {localGateway.dataDir ? (
        <p className="muted small">
          Data folder: <code>{localGateway.dataDir}</code>
        </p>
      ) : null}
    </CardLayout>
  );
}
