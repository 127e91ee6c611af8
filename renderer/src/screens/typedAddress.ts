/**
 * A gateway address in messages as the person typed it (issue #15): the URL parser turns
 * `gateway.exämple.com` into `https://gateway.xn--exmple-cua.com`, and an error that quotes the
 * parsed form reads as if Witness had tried some other address. The request goes to the parsed
 * URL; only what is shown changes back.
 */

/** `message` with the URL that was sent (and its host alone) replaced by what was typed. */
export function echoTypedAddress(message: string, sentUrl: string, typed: string): string {
  const shown = typed.trim();
  if (shown === '' || shown === sentUrl) return message;
  let out = message.split(sentUrl).join(shown);
  const sentHost = hostOf(sentUrl);
  const typedHost = hostAsTyped(shown);
  if (sentHost !== null && typedHost !== '' && sentHost !== typedHost) {
    out = out.split(sentHost).join(typedHost);
  }
  return out;
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}

/** The host part of what was typed, without scheme, port or path. */
function hostAsTyped(typed: string): string {
  return typed.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[/:?#]/)[0] ?? '';
}
