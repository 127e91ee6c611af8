/**
 * Runs one user action (a form submit, a button) at a time: `busy` disables the controls,
 * `error` is the message for the alert beside them. Errors are main's `{code, message}`;
 * `onError` may claim one (e.g. 'totp_required' moves sign-in to its code step).
 */
import { useCallback, useRef, useState } from 'react';
import { describeError } from './describeError.ts';

export interface Action {
  busy: boolean;
  error: string | null;
  setError(message: string | null): void;
  run(work: () => Promise<void>, onError?: (error: unknown) => boolean): void;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = useRef(false);
  const run = useCallback((work: () => Promise<void>, onError?: (error: unknown) => boolean) => {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    setError(null);
    work()
      .catch((e: unknown) => {
        if (onError?.(e)) return;
        setError(describeError(e));
      })
      .finally(() => {
        running.current = false;
        setBusy(false);
      });
  }, []);
  return { busy, error, setError, run };
}
