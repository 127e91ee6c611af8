/**
 * Turns an untrusted `(name, request)` from a renderer into a handler call, and the result into
 * a `CallOutcome` that can cross IPC or a WebSocket. Both transports (Electron's ipcMain in
 * main/index.ts and the web host) use this one function, so validation cannot differ between
 * them.
 */
import { isCallName } from './channels.ts';
import {
  type CallerContext,
  type CallHandlers,
  type CallOutcome,
  calls,
  DesktopError,
  type DesktopErrorShape,
  errorCodes,
} from './contract.ts';
import { invalidInputSentence, problemOfZodIssue } from './invalidInputSentence.ts';

export interface Dispatcher {
  dispatch(name: unknown, request: unknown, caller: CallerContext): Promise<CallOutcome<unknown>>;
}

export interface DispatcherOptions {
  /** Where unexpected (non-DesktopError) failures are logged; their details never reach the renderer. */
  logUnexpected?: (name: string, error: unknown) => void;
}

const knownCodes: ReadonlySet<string> = new Set(errorCodes);

export function createDispatcher(
  handlers: CallHandlers,
  options: DispatcherOptions = {},
): Dispatcher {
  return {
    async dispatch(name, request, caller) {
      if (!isCallName(name)) {
        return failure(
          'unknown_call',
          `There is no call named ${JSON.stringify(String(name)).slice(0, 80)}.`,
        );
      }
      const spec = calls[name];
      const parsed = spec.request.safeParse(request ?? {});
      if (!parsed.success) {
        // Said per field in the app's words; zod's own wording never reaches a person (#15).
        return failure(
          'invalid_request',
          invalidInputSentence(
            parsed.error.issues.map((issue) => ({
              path: issue.path,
              problem: problemOfZodIssue(issue),
            })),
          ),
        );
      }
      try {
        // The handler map is indexed by the same name, so the parsed request fits it; TypeScript
        // cannot correlate the two generic lookups, hence the cast.
        const handler = handlers[name] as (req: unknown, caller: CallerContext) => Promise<unknown>;
        const value = await handler(parsed.data, caller);
        // Parsing the response strips any field the contract does not declare.
        return { ok: true, value: spec.response.parse(value) };
      } catch (error) {
        if (error instanceof DesktopError && knownCodes.has(error.code)) {
          return failure(error.code, error.message);
        }
        options.logUnexpected?.(name, error);
        return failure(
          'internal',
          `${name} failed unexpectedly; the details are in the app's log.`,
        );
      }
    },
  };
}

function failure(code: DesktopErrorShape['code'], message: string): CallOutcome<never> {
  return { ok: false, error: { code, message } };
}
