import { createServer } from 'node:http';
import { type LocalClock, realSleep, type Sleep, systemClock } from './clock.js';
import { createEngine, type EngineSpec } from './engines/create.js';
import type { Database } from './engines/types.js';
import { FaultInjector, type FaultOptions } from './faults.js';
import { closeServer, listen } from './http.js';
import { createDataApiHandler, type DataApiCall, type DataApiStats, emptyStats } from './rds-data/http.js';
import { type LatencySpec, latencySampler } from './rds-data/latency.js';
import { type DataApiLimits, DataApiService } from './rds-data/service.js';
import type { TransactionTimeouts } from './rds-data/transactions.js';

export type { LatencySpec, LatencySpread } from './rds-data/latency.js';

/** How the local Data API behaves. */
export interface DataApiOptions {
  /** The database it runs statements on. */
  readonly engine: Database;
  /** Time for transaction expiry. @default the system clock */
  readonly clock?: LocalClock;
  /**
   * Delay added to every call, modelling the network and service round trip: ms per call, a spread
   * (`{ p50, p90, seed }`, drawn per call from a seeded log-normal), or a function drawing each call's ms.
   * @default 0
   */
  readonly latencyMs?: LatencySpec;
  /** How latency is waited out (tests pass one that records instead of sleeping). @default a timer */
  readonly sleep?: Sleep;
  /** Injected failures. @default none */
  readonly faults?: FaultOptions;
  /** Size limits. @default the service's: 1 MiB responses, 64 KB rows, 4 MiB requests */
  readonly limits?: Partial<DataApiLimits>;
  /** Transaction timeouts. @default 3 minutes idle, 24 hours in all */
  readonly transactionTimeouts?: Partial<TransactionTimeouts>;
  /**
   * The cluster ARNs it answers for; a request naming another is refused with the service's
   * BadRequestException ("HttpEndpoint is not enabled for cluster ..."). @default [LOCAL_CLUSTER_ARN]
   */
  readonly clusterArns?: readonly string[];
}

/** The local RDS Data API: the service, its HTTP handler, and the knobs tests and benchmarks turn. */
export class LocalDataApi {
  readonly service: DataApiService;
  /** The node:http request listener speaking the Data API's REST JSON protocol. */
  readonly handler: ReturnType<typeof createDataApiHandler>;
  private counters: DataApiStats = emptyStats();
  private latency: () => number;
  /** Latency waited out since start or the last reset (the sum of the draws, for a spread). */
  private waited = 0;
  private injector: FaultInjector | undefined;
  private callListener: ((call: DataApiCall) => void) | undefined;
  private readonly sweeper: NodeJS.Timeout;

  /**
   * @throws RangeError for a negative latency, a malformed spread, or a clusterArns entry that is not a
   * cluster ARN.
   */
  constructor(options: DataApiOptions) {
    const clock = options.clock ?? systemClock;
    this.service = new DataApiService({
      engine: options.engine,
      clock,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.transactionTimeouts ? { transactionTimeouts: options.transactionTimeouts } : {}),
      ...(options.clusterArns ? { clusterArns: options.clusterArns } : {}),
    });
    this.latency = latencySampler(options.latencyMs ?? 0);
    this.injector = options.faults ? new FaultInjector(options.faults) : undefined;
    this.handler = createDataApiHandler({
      service: this.service,
      stats: () => this.counters,
      sleep: options.sleep ?? realSleep,
      latencyMs: () => {
        const ms = this.latency();
        this.waited += ms;
        return ms;
      },
      faults: () => this.injector,
      onCall: () => this.callListener,
    });
    // Abandoned transactions must give their connection back even when no call comes to expire them.
    this.sweeper = setInterval(() => void this.service.transactions.expire(), 10_000);
    this.sweeper.unref();
  }

  /** A snapshot of the counters since start or the last reset. */
  stats(): DataApiStats {
    return structuredClone(this.counters);
  }

  /** Latency added to calls since start or the last reset, in ms: with a spread, the sum of its draws. */
  latencyWaitedMs(): number {
    return this.waited;
  }

  /** Zeroes the counters and the latency waited. */
  resetStats(): void {
    this.counters = emptyStats();
    this.waited = 0;
  }

  /**
   * Changes the per-call latency (a spread starts again from its seed).
   * @throws RangeError for a negative or non-finite value, or a malformed spread.
   */
  setLatency(spec: LatencySpec): void {
    this.latency = latencySampler(spec);
  }

  /** Replaces the fault plan (call numbering starts again); `undefined` turns faults off. */
  setFaults(options: FaultOptions | undefined): void {
    this.injector = options ? new FaultInjector(options) : undefined;
  }

  /** Tells `listener` of every call once it is answered (`undefined`: no one). */
  observeCalls(listener: ((call: DataApiCall) => void) | undefined): void {
    this.callListener = listener;
  }

  /** Rolls back open transactions. The engine stays open: its owner closes it. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.service.transactions.closeAll();
  }
}

/** A running standalone Data API endpoint. */
export interface RunningDataApi {
  readonly url: string;
  readonly dataApi: LocalDataApi;
  readonly engine: Database;
  /** Rolls back open transactions, stops the server, and closes the engine if this call opened it. */
  close(): Promise<void>;
}

/**
 * Starts the Data API alone on its own port.
 * @throws the engine's connection error, or the listen error.
 */
export async function startDataApi(
  options: Omit<DataApiOptions, 'engine'> & {
    readonly engine?: Database | EngineSpec;
    readonly port?: number;
    readonly host?: string;
  },
): Promise<RunningDataApi> {
  const given = options.engine ?? 'pglite';
  const owned = typeof given === 'string' || !('begin' in given);
  const engine = owned ? await createEngine(given as EngineSpec) : (given as Database);
  let dataApi: LocalDataApi;
  try {
    dataApi = new LocalDataApi({ ...options, engine });
  } catch (error) {
    // A refused latency (or cluster ARN) must not leave the engine this call opened running.
    if (owned) await engine.close();
    throw error;
  }
  const server = createServer(dataApi.handler);
  let url: string;
  try {
    url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  } catch (error) {
    await dataApi.close();
    if (owned) await engine.close();
    throw error;
  }
  return {
    url,
    dataApi,
    engine,
    async close() {
      // Roll back first: a call waiting for PGlite behind an open transaction would keep the server open.
      await dataApi.close();
      await closeServer(server);
      if (owned) await engine.close();
    },
  };
}
