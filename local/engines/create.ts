import { createMysqlEngine } from './mysql.js';
import { createPgliteEngine } from './pglite.js';
import { createPostgresEngine } from './postgres.js';
import type { Database } from './types.js';

/** Which database the local Data API runs on. */
export type EngineSpec =
  | 'pglite'
  | { readonly pglite: { readonly dataDir?: string } }
  | { readonly postgresUrl: string }
  | { readonly mysqlUrl: string };

/**
 * Opens the engine a spec names.
 * @throws the driver's connection error when a server cannot be reached.
 */
export function createEngine(spec: EngineSpec): Promise<Database> {
  if (spec === 'pglite') return createPgliteEngine();
  if ('pglite' in spec) return createPgliteEngine(spec.pglite);
  if ('postgresUrl' in spec) return createPostgresEngine({ url: spec.postgresUrl });
  return createMysqlEngine({ url: spec.mysqlUrl });
}
