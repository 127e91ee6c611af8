/**
 * The tunnels panel (issue #15): the form that opens a tunnel on a PostgreSQL resource (its
 * port editable, the remembered one filled in), and one card per tunnel — the port, the live
 * connections with a link to each one's recording, the lines to copy into psql or a GUI tool,
 * Stop; an ended tunnel keeps its card with the reason (the grant ended, sign-out) until
 * dismissed.
 */
import { useEffect, useId, useState } from 'react';
import type { DesktopApi, ResourceSummary, TunnelView } from '../../../main/ipc/contract.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { useAction } from '../components/useAction.ts';
import { CopyLine } from './CopyLine.tsx';
import { parsePortField, tunnelActivity } from './tunnelText.ts';
import './tunnels.css';

export function TunnelsView({
  api,
  tunnels,
  opening,
  onOpeningDone,
  onShowRecording,
}: {
  api: DesktopApi;
  tunnels: TunnelView[];
  /** The resource whose "Open tunnel" was clicked: the form is shown for it. */
  opening: ResourceSummary | null;
  onOpeningDone(): void;
  onShowRecording(sessionId: string, resourceName: string, live: boolean): void;
}) {
  return (
    <section className="tunnels" aria-labelledby="tunnels-title">
      <h2 id="tunnels-title">Tunnels</h2>
      <p className="muted small">
        A tunnel is a port on this computer (127.0.0.1) for psql, pgbench, DBeaver or pgAdmin. Every
        connection to it is its own recorded session under your name. Anyone who can connect to the
        port on this computer acts as you, as with an SSH port forward.
      </p>
      {opening ? (
        <OpenTunnelForm key={opening.id} api={api} resource={opening} onDone={onOpeningDone} />
      ) : null}
      {tunnels.length === 0 && !opening ? (
        <p className="muted small empty">
          No tunnels open. Choose “Open tunnel” on a PostgreSQL resource.
        </p>
      ) : null}
      <ul className="tunnel-list" aria-label="Open tunnels">
        {tunnels.map((tunnel) => (
          <TunnelCard
            key={tunnel.tunnelId}
            api={api}
            tunnel={tunnel}
            onShowRecording={onShowRecording}
          />
        ))}
      </ul>
    </section>
  );
}

function OpenTunnelForm({
  api,
  resource,
  onDone,
}: {
  api: DesktopApi;
  resource: ResourceSummary;
  onDone(): void;
}) {
  const portId = useId();
  const [port, setPort] = useState('');
  const action = useAction();
  useEffect(() => {
    api
      .call('tunnels.rememberedPort', { resourceId: resource.id })
      .then((remembered) => {
        if (remembered.port !== null) setPort((current) => current || String(remembered.port));
      })
      .catch(() => {});
  }, [api, resource.id]);
  const parsed = parsePortField(port);
  return (
    <form
      className="tunnel-open"
      aria-label={`Open a tunnel to ${resource.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        if ('error' in parsed) return;
        action.run(async () => {
          await api.call('tunnels.open', {
            resourceId: resource.id,
            ...(parsed.port !== undefined && { port: parsed.port }),
          });
          onDone();
        });
      }}
    >
      <h3>Open a tunnel to {resource.name}</h3>
      <label htmlFor={portId}>Local port</label>
      <div className="tunnel-open-row">
        <input
          id={portId}
          inputMode="numeric"
          placeholder="any free port"
          value={port}
          onChange={(e) => setPort(e.target.value)}
          aria-invalid={'error' in parsed}
        />
        <button
          type="submit"
          className="button button-primary button-small"
          disabled={action.busy || 'error' in parsed}
        >
          Open tunnel
        </button>
        <button type="button" className="button button-ghost button-small" onClick={onDone}>
          Cancel
        </button>
      </div>
      {'error' in parsed ? <p className="field-error small">{parsed.error}</p> : null}
      <p className="muted small">The port is remembered for {resource.name}.</p>
      <ErrorAlert message={action.error} />
    </form>
  );
}

function TunnelCard({
  api,
  tunnel,
  onShowRecording,
}: {
  api: DesktopApi;
  tunnel: TunnelView;
  onShowRecording(sessionId: string, resourceName: string, live: boolean): void;
}) {
  const action = useAction();
  const open = tunnel.state.kind === 'open';
  return (
    <li
      className={`tunnel-card${open ? '' : ' tunnel-ended'}`}
      aria-label={`Tunnel to ${tunnel.resourceName}`}
    >
      <div className="tunnel-head">
        <span className="kind kind-postgres">PG</span>
        <strong>{tunnel.resourceName}</strong>
        <span className="tunnel-address">
          {tunnel.host}:<span className="tunnel-port">{tunnel.port}</span>
        </span>
        <span className={`badge ${open ? 'badge-status-recording' : 'badge-warn'}`}>
          {open ? 'Listening' : 'Closed'}
        </span>
        <button
          type="button"
          className="button button-small"
          disabled={action.busy}
          onClick={() =>
            action.run(() =>
              api.call('tunnels.close', { tunnelId: tunnel.tunnelId }).then(() => {}),
            )
          }
        >
          {open ? 'Stop tunnel' : 'Dismiss'}
        </button>
      </div>
      <ErrorAlert message={action.error} />
      {tunnel.state.kind === 'ended' ? (
        <p role="alert" className="alert alert-warn">
          {tunnel.state.message}
        </p>
      ) : (
        <>
          <p className="muted small" aria-live="polite">
            {tunnelActivity(tunnel)}
          </p>
          {tunnel.connections.length > 0 ? (
            <ul className="tunnel-connections" aria-label="Live connections">
              {tunnel.connections.map((connection) => (
                <li key={connection.sessionId}>
                  <span className={`dot dot-${connection.state}`} aria-hidden="true" />
                  <code>{connection.sessionId}</code>
                  <span className="muted small">
                    {connection.state === 'live' ? 'live' : 'connecting'} since{' '}
                    {new Date(connection.since).toLocaleTimeString()}
                  </span>
                  <button
                    type="button"
                    className="button button-ghost button-small"
                    onClick={() =>
                      onShowRecording(
                        connection.sessionId,
                        tunnel.resourceName,
                        connection.state === 'live',
                      )
                    }
                  >
                    Recording
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
          <div className="copy-lines">
            <CopyLine label="psql" value={tunnel.lines.psql} />
            <CopyLine label="URI" value={tunnel.lines.uri} />
            <CopyLine label="JDBC URL" value={tunnel.lines.jdbcUrl} />
          </div>
        </>
      )}
    </li>
  );
}
