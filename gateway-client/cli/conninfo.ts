/** A libpq conninfo value: quoted when it has spaces, quotes or backslashes (libpq 34.1.1). */
export function conninfoValue(value: string): string {
  return /^[^\s'\\"]+$/.test(value) ? value : `'${value.replace(/['\\]/g, '\\$&')}'`;
}
