/**
 * A page's data: loaded on mount and on `reload()`, with the error to show. An answer that
 * arrives after a newer load started is dropped, so a slow first load cannot overwrite the
 * fresh list a change just fetched.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from '../../components/describeError.ts';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload(): void;
  /** Replace the data without a call (an event brought a newer row). */
  set(update: (current: T | null) => T | null): void;
}

export function useLoaded<T>(load: () => Promise<T>): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(0);
  const reload = useCallback(() => {
    const mine = ++latest.current;
    load()
      .then((value) => {
        if (mine !== latest.current) return;
        setData(value);
        setError(null);
      })
      .catch((e: unknown) => {
        if (mine === latest.current) setError(describeError(e));
      });
  }, [load]);
  useEffect(() => {
    reload();
  }, [reload]);
  return { data, error, reload, set: setData };
}
