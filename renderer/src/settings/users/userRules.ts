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
