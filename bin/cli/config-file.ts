import { readFile } from 'node:fs/promises';
import { ConfigError, parseConfig, type RekeyConfig } from '../../lambda/index.js';
import { jsonSyntaxProblem } from './json-syntax.js';

/**
 * Reads and validates the config file (the same JSON the Lambda gets in `REKEY_CONFIG`).
 * @throws ConfigError naming the file; the line and column when it is not JSON; the field when the
 * content is invalid.
 */
export async function loadConfigFile(path: string): Promise<RekeyConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`config file '${path}' cannot be read (${code})`, { cause });
  }
  // An editor's byte order mark is not part of the JSON.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    const at = jsonSyntaxProblem(text);
    throw new ConfigError(
      `config file '${path}' is not valid JSON${at ? `: line ${at.line}, column ${at.column}: ${at.problem}` : ''}`,
      { cause },
    );
  }
  return parseConfig(parsed, path);
}
