/**
 * "Copy connection for DBeaver/pgAdmin" (issue #15): main makes a key, gets a short-lived
 * certificate from the gateway and writes both to the desktop's profile (the key never comes
 * here); this dialog shows the lines and file paths to paste into the tool. Every connection
 * made with them goes straight to the gateway (verify-full) and is its own recorded session.
 */
import { useEffect, useRef, useState } from 'react';
import type { DbConnection, DesktopApi, ResourceSummary } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { CopyLine } from './CopyLine.tsx';
import './tunnels.css';

export function DbConnectionDialog({
  api,
  resource,
  onClose,
}: {
  api: DesktopApi;
  resource: ResourceSummary;
  onClose(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [connection, setConnection] = useState<DbConnection | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  useEffect(() => {
    api
      .call('dbCertificates.create', { resourceId: resource.id })
      .then(setConnection)
      .catch((e: unknown) => setError(describeError(e)));
  }, [api, resource.id]);
  return (
    <dialog
      ref={ref}
      className="dialog db-connection-dialog"
      aria-labelledby="db-connection-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id="db-connection-title">Connection for DBeaver or pgAdmin: {resource.name}</h2>
      <ErrorAlert message={error} />
      {connection === null && error === null ? (
        <p role="status" className="muted small">
          Getting a certificate from the gateway…
        </p>
      ) : null}
      {connection ? (
        <>
          <p className="muted small">
            A certificate for {connection.username}, valid until{' '}
            {new Date(connection.notAfter).toLocaleString()}. Your access is still checked on every
            connection; each one is its own recorded session.
          </p>
          <div className="copy-lines">
            <CopyLine label="psql" value={connection.lines.psql} />
            <CopyLine label="Connection string" value={connection.lines.conninfo} />
            <CopyLine label="URI" value={connection.lines.uri} />
            <CopyLine label="JDBC URL (DBeaver)" value={connection.lines.jdbcUrl} />
            <CopyLine label="Client certificate" value={connection.files.cert} />
            <CopyLine label="Client key (pgAdmin, PEM)" value={connection.files.key} />
            <CopyLine label="Client key (DBeaver, PK8)" value={connection.files.keyDer} />
            <CopyLine label="Root certificate" value={connection.files.ca} />
          </div>
        </>
      ) : null}
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}
