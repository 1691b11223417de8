import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from './ports.js';

/**
 * The structured JSON logger of the Lambda and the CLI: Powertools' Logger, one JSON object per line
 * with fixed keys. Callers pass counts, ids and names only, never a secret value or a decrypted field.
 */
export function createLog(
  options: { serviceName?: string; level?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' } = {},
): Log {
  const logger = new Logger({
    serviceName: options.serviceName ?? 'rekey',
    logLevel: options.level ?? (process.env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO',
  });
  return {
    info: (message, fields) => logger.info(message, kept(fields)),
    warn: (message, fields) => logger.warn(message, kept(fields)),
    error: (message, fields) => logger.error(message, kept(fields)),
  };
}

/** Keys Powertools Logger keeps for the line itself and drops from the extra fields. */
const RESERVED_KEYS = new Set(['level', 'message', 'timestamp', 'service', 'sampling_rate']);

/** The fields with any reserved key renamed (`message` → `field_message`), so none is dropped silently. */
function kept(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  if (!Object.keys(fields).some((k) => RESERVED_KEYS.has(k))) return fields;
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [RESERVED_KEYS.has(k) ? `field_${k}` : k, v]),
  );
}

/** A log that drops everything (benchmarks, quiet CLI runs). */
export const silentLog: Log = { info: () => {}, warn: () => {}, error: () => {} };

/** A log that keeps every entry in memory, for tests. */
export function memoryLog(): Log & {
  readonly entries: { level: string; message: string; fields?: unknown }[];
} {
  const entries: { level: string; message: string; fields?: unknown }[] = [];
  return {
    entries,
    info: (message, fields) => entries.push({ level: 'info', message, fields }),
    warn: (message, fields) => entries.push({ level: 'warn', message, fields }),
    error: (message, fields) => entries.push({ level: 'error', message, fields }),
  };
}
