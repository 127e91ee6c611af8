/**
 * React side of WorkbenchActivityStore: the Workspace provides one store; panels report into it
 * with `useReportActivity`, the status bar reads it with `useWorkbenchActivity`.
 */
import { createContext, useContext, useEffect, useId, useSyncExternalStore } from 'react';
import {
  type ActivityKind,
  NO_ACTIVITY,
  type WorkbenchActivity,
  WorkbenchActivityStore,
} from './workbenchActivity.ts';

export const WorkbenchActivityContext = createContext<WorkbenchActivityStore | null>(null);

const detached = new WorkbenchActivityStore();

/** Tells the status bar how many `kind` this component has live now (0 when it has none). */
export function useReportActivity(kind: ActivityKind, count: number): void {
  const store = useContext(WorkbenchActivityContext);
  const reporter = useId();
  useEffect(() => {
    store?.report(kind, reporter, count);
  }, [store, kind, reporter, count]);
  useEffect(() => () => store?.withdraw(reporter), [store, reporter]);
}

/** The summed counts; all zero outside a workspace. */
export function useWorkbenchActivity(): WorkbenchActivity {
  const store = useContext(WorkbenchActivityContext) ?? detached;
  return useSyncExternalStore(store.subscribe, store.current, () => NO_ACTIVITY);
}
