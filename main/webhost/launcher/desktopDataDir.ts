/**
 * The web host's data folder, the same place an installed app would use: --data, else
 * WITNESS_DESKTOP_DATA, else $XDG_DATA_HOME/witness-desktop, else ~/.local/share/witness-desktop
 * (on macOS ~/Library/Application Support/witness-desktop, on Windows %APPDATA%\witness-desktop).
 */
import os from 'node:os';
import path from 'node:path';

export function desktopDataDir(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = os.homedir(),
): string {
  if (flag) return path.resolve(flag);
  if (env.WITNESS_DESKTOP_DATA) return path.resolve(env.WITNESS_DESKTOP_DATA);
  if (platform === 'darwin')
    return path.join(home, 'Library', 'Application Support', 'witness-desktop');
  if (platform === 'win32') {
    return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'witness-desktop');
  }
  const base =
    env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME)
      ? env.XDG_DATA_HOME
      : path.join(home, '.local', 'share');
  return path.join(base, 'witness-desktop');
}
