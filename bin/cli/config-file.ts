import { readFile } from 'node:fs/promises';
import { ConfigError, parseConfig, type RekeyConfig } from '../../lambda/index.js';

/**
 * Reads and validates the config file (the same JSON the Lambda gets in `REKEY_CONFIG`).
 * @throws ConfigError naming the file, and the field when the content is invalid.
 */
export async function loadConfigFile(path: string): Promise<RekeyConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`config file '${path}' cannot be read (${code})`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`config file '${path}' is not valid JSON`, { cause });
  }
  return parseConfig(parsed, path);
}
