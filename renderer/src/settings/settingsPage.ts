/** What every settings page receives (the Resources, Policies and Audit pages too). */
import type { DesktopApi } from '../../../main/ipc/contract.ts';
import type { Viewer } from './viewer.ts';

export interface SettingsPageProps {
  api: DesktopApi;
  viewer: Viewer;
  /** Opens the live watch of a session in the Recordings view. */
  onWatchLive(sessionId: string, resourceName: string): void;
}
