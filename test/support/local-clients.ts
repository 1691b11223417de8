import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LocalClock, Sleep } from '../../local/index.js';

/** Dummy credentials: the local endpoints accept any signature. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** A real Secrets Manager client pointed at a local endpoint; one attempt, so errors surface as sent. */
export function localSecretsManagerClient(endpoint: string): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
}

/** A real RDS Data client pointed at a local endpoint; one attempt, so injected faults surface as sent. */
export function localDataClient(endpoint: string): RDSDataClient {
  return new RDSDataClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
}

/** A clock that moves only when told to. */
export function manualClock(
  start = Date.UTC(2025, 0, 15, 12, 0, 0),
): LocalClock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** A sleep that records what it was asked to wait and returns at once. */
export function recordingSleep(): Sleep & { readonly slept: number[] } {
  const slept: number[] = [];
  const sleep = async (ms: number): Promise<void> => {
    slept.push(ms);
  };
  return Object.assign(sleep, { slept });
}

/** A table name no other run or test uses, so suites on shared servers never collide. */
export function uniqueTableName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}
