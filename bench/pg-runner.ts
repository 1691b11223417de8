import { type DirectPostgresRunner, directPostgresRunner } from '../local/direct-postgres.js';
import { processCpuMs } from './proc-cpu.js';

/** The direct-SQL limit's runner, which also reports its PostgreSQL backend's CPU. */
export interface DirectRunner extends DirectPostgresRunner {
  /** CPU the connection's PostgreSQL backend has used so far, in ms (read from /proc). */
  readonly backendCpuMs: () => number;
}

/**
 * The same statements rekey sends through the Data API, on one `pg` connection (see
 * directPostgresRunner): same crypto, same keyset pages, same compare-and-swap, no HTTP in between.
 * @throws the connection error when the server cannot be reached.
 */
export async function directRunner(url: string): Promise<DirectRunner> {
  const db = await directPostgresRunner(url);
  return { ...db, backendCpuMs: () => processCpuMs(db.backendPid) };
}
