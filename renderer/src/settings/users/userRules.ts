/** What the invite form checks as you type (the gateway checks again: apiSchemas.ts). */
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function usernameProblem(value: string): string | null {
  if (value === '') return 'Enter a username.';
  if (!NAME.test(value))
    return 'Use lower-case letters, digits, “.”, “_” and “-”, starting with a letter or digit.';
  return null;
}

/** Groups typed as a comma- or space-separated list. */
export function parseGroupList(value: string): string[] {
  return [...new Set(value.split(/[\s,]+/).filter(Boolean))];
}

export function groupListProblem(value: string): string | null {
  const bad = parseGroupList(value).filter((g) => !NAME.test(g));
  return bad.length > 0
    ? `Not a group name: ${bad.join(', ')} (lower-case letters, digits, . _ -).`
    : null;
}

/** What the one-time link notice says: after an invitation, or after a reset (issue #14). */
export interface LinkNoticeText {
  heading: string;
  /** What the user does with the link, after "they open it in Witness (Enroll with a link)". */
  withLink: string;
  /** Shown when no link came back. */
  withoutLink: string;
}

export function inviteNoticeText(username: string): LinkNoticeText {
  return {
    heading: `${username} was created`,
    withLink: 'and choose a password',
    withoutLink: 'The user was created with a password; no link is needed.',
  };
}

export function resetNoticeText(
  username: string,
  reset: { password: boolean; totp: boolean },
): LinkNoticeText {
  const what = [reset.password && 'password', reset.totp && 'TOTP'].filter(Boolean).join(' and ');
  const plural = reset.password && reset.totp;
  return {
    heading: `${username}'s ${what} ${plural ? 'were' : 'was'} reset`,
    withLink: `and choose a new password${reset.totp ? ', then set up TOTP again' : ''}`,
    withoutLink: `${username} was signed out everywhere; they sign in with their password and set up TOTP again.`,
  };
}
