/**
 * Client-side checks that save a round trip and say what to fix. The gateway checks the same
 * rules again (shared/api/apiSchemas.ts: usernameSchema, passwordSchema); these only
 * give the message before the form is sent.
 */

export const MIN_PASSWORD_LENGTH = 10;
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface NewPasswordFields {
  password: string;
  confirm: string;
}

/** The first problem with a new password, or null. */
export function newPasswordProblem(fields: NewPasswordFields): string | null {
  if (fields.password.length < MIN_PASSWORD_LENGTH) {
    return `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`;
  }
  if (fields.password.length > 1024) return 'That password is too long (1024 characters at most).';
  if (fields.password !== fields.confirm) return 'The two passwords do not match.';
  return null;
}

export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'Enter a username.';
  if (!USERNAME.test(username)) {
    return 'Usernames are 1–63 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit.';
  }
  return null;
}

export function adminFormProblem(fields: NewPasswordFields & { username: string }): string | null {
  return usernameProblem(fields.username) ?? newPasswordProblem(fields);
}

/** Enroll links look like witness://enroll?gateway=…&token=…&fingerprint=… */
export function enrollLinkProblem(link: string): string | null {
  const trimmed = link.trim();
  if (trimmed === '') return 'Paste the enroll link your administrator sent you.';
  if (!/^witness:(\/\/)?enroll\?/i.test(trimmed)) {
    return 'That is not an enroll link: it should start with witness://enroll?';
  }
  return null;
}

/** Gateway URLs: https only (the desktop pins the CA); a bare host:port gets https:// added. */
export function normalizeGatewayUrl(input: string): { url: string } | { problem: string } {
  const trimmed = input.trim();
  if (trimmed === '')
    return { problem: 'Enter the gateway address, e.g. https://gateway.example.com:8443' };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    // Quoted as typed: the parser's own rendering would percent-encode it (issue #15).
    return {
      problem: `“${trimmed}” is not a valid address — check it for typos (e.g. https://gateway.example.com:8443).`,
    };
  }
  // Chromium's parser accepts a space in a host and percent-encodes it; no DNS name has one.
  if (parsed.hostname.includes('%')) {
    return { problem: `“${trimmed}” is not a valid address — a host name has no spaces.` };
  }
  if (parsed.protocol !== 'https:') {
    return { problem: 'The gateway is reached over https:// only.' };
  }
  return { url: parsed.origin };
}

/** TOTP codes are six digits; spaces people type from an authenticator app are dropped. */
export function normalizeTotp(input: string): { code: string } | { problem: string } {
  const digits = input.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(digits))
    return { problem: 'Enter the 6-digit code from your authenticator app.' };
  return { code: digits };
}
