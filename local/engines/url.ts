/** A connection URL without its password, for descriptions and errors. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

/**
 * Whether a driver error code is an SQLSTATE (five characters), as opposed to Node's own codes such as
 * ECONNREFUSED, which mean the database could not be reached rather than that it refused a statement.
 */
export function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code);
}
