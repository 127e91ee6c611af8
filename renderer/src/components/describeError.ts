/** The sentence to show for a failed call: main's `{code, message}` message, else the error's. */
import { isDesktopError } from '../desktopApi/getDesktopApi.ts';

export function describeError(error: unknown): string {
  if (isDesktopError(error)) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
