/**
 * Open a signed bundle from disk, with no gateway needed. In the web host the browser sends the
 * chosen file to main in pieces (bundles.upload*); in Electron, with no file chosen here, main
 * shows its own open dialog. The key: the pinned gateway's, or a fingerprint the user types —
 * the key inside the bundle never vouches for itself.
 */
import { useEffect, useRef, useState } from 'react';
import type { DesktopApi, PlaybackInfo } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { uploadBundle } from './bundleUpload.ts';
import { formatBytes } from './verdictLabel.ts';

export function OpenBundleDialog({
  api,
  onClose,
  onOpened,
}: {
  api: DesktopApi;
  onClose(): void;
  onOpened(info: PlaybackInfo): void;
}) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [fingerprint, setFingerprint] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  // Electron's preload puts the API on window.witness; there main opens the file itself.
  const electron = typeof window !== 'undefined' && window.witness !== undefined && file === null;

  useEffect(() => {
    dialogRef.current?.showModal();
    return () => abort.current?.abort();
  }, []);

  const open = async () => {
    setBusy(true);
    setError(null);
    const controller = new AbortController();
    abort.current = controller;
    try {
      const uploadId =
        file === null
          ? undefined
          : await uploadBundle(api, file, (n) => setSent(n), controller.signal);
      const typed = fingerprint.trim();
      const info = await api.call('recordings.openBundle', {
        ...(uploadId ? { uploadId } : {}),
        ...(typed ? { fingerprint: typed } : {}),
      });
      onOpened(info);
    } catch (e) {
      if (!controller.signal.aborted) setError(describeError(e));
    } finally {
      setBusy(false);
      setSent(null);
    }
  };

  return (
    <dialog
      ref={dialogRef}
      className="dialog"
      aria-labelledby="bundle-title"
      onClose={onClose}
      onCancel={() => abort.current?.abort()}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void open();
        }}
      >
        <h2 id="bundle-title">Open a recording bundle</h2>
        <p className="muted small">
          A bundle exported from Witness plays without the gateway. It is verified before anything
          is shown: against the pinned recording key, or the key fingerprint you enter.
        </p>
        <label className="field">
          <span>Bundle file</span>
          <input
            type="file"
            accept=".bundle,.witness,.json,.jsonl,application/octet-stream"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </label>
        <label className="field">
          <span>Key fingerprint (optional)</span>
          <input
            type="text"
            value={fingerprint}
            placeholder="SHA256:… — leave empty to use the pinned key"
            onChange={(e) => setFingerprint(e.target.value)}
            spellCheck={false}
          />
        </label>
        <ErrorAlert message={error} />
        {sent !== null && file !== null ? (
          <div role="status" className="small">
            Sending {formatBytes(sent)} of {formatBytes(file.size)}
            <progress aria-label="Bundle upload" max={file.size} value={sent} />
          </div>
        ) : null}
        <div className="dialog-actions">
          <button
            type="button"
            className="button button-ghost"
            onClick={() => {
              abort.current?.abort();
              dialogRef.current?.close();
            }}
          >
            Cancel
          </button>
          <button
            type="submit"
            className="button button-primary"
            disabled={busy || (file === null && !electron)}
          >
            {busy ? 'Verifying…' : electron ? 'Choose file and verify' : 'Open and verify'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
