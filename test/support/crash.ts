import type { SecretsStore, SqlRunner } from '../../lambda/ports.js';

/** The error an injected crash throws: the process "died" right after a call took effect. */
export class InjectedCrash extends Error {
  constructor(readonly point: number) {
    super(`injected crash at call ${point}`);
    this.name = 'InjectedCrash';
  }
}

/**
 * Counts every call to the database and the secrets store and throws after call number `at` has taken
 * effect, as a Lambda killed between receiving an answer and acting on it would. `at` 0 never crashes.
 */
export class CrashSwitch {
  calls = 0;
  constructor(public at = 0) {}

  tick(): void {
    this.calls++;
    if (this.calls === this.at) throw new InjectedCrash(this.calls);
  }

  sql(inner: SqlRunner): SqlRunner {
    const after = async <T>(work: Promise<T>): Promise<T> => {
      const result = await work;
      this.tick();
      return result;
    };
    return {
      dialect: inner.dialect,
      execute: (sql, params, tx) => after(inner.execute(sql, params, tx)),
      begin: () => after(inner.begin()),
      commit: (tx) => after(inner.commit(tx)),
      rollback: (tx) => after(inner.rollback(tx)),
    };
  }

  secrets(inner: SecretsStore): SecretsStore {
    const after = async <T>(work: Promise<T>): Promise<T> => {
      const result = await work;
      this.tick();
      return result;
    };
    return {
      describe: (id) => after(inner.describe(id)),
      getValue: (id, at) => after(inner.getValue(id, at)),
      putPending: (id, token, value, rt) => after(inner.putPending(id, token, value, rt)),
      moveStage: (id, stage, move) => after(inner.moveStage(id, stage, move)),
    };
  }
}
