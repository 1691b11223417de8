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
 * With `mode` 'before', call `at` throws before it is sent instead: the process died with the call
 * about to go out, so it never took effect (a page's statement that never committed).
 */
export class CrashSwitch {
  calls = 0;
  constructor(
    public at = 0,
    readonly mode: 'after' | 'before' = 'after',
  ) {}

  tick(): void {
    this.calls++;
    if (this.calls === this.at) throw new InjectedCrash(this.calls);
  }

  sql(inner: SqlRunner): SqlRunner {
    return {
      dialect: inner.dialect,
      execute: (sql, params, tx) => this.call(() => inner.execute(sql, params, tx)),
      begin: () => this.call(() => inner.begin()),
      commit: (tx) => this.call(() => inner.commit(tx)),
      rollback: (tx) => this.call(() => inner.rollback(tx)),
    };
  }

  secrets(inner: SecretsStore): SecretsStore {
    return {
      describe: (id) => this.call(() => inner.describe(id)),
      getValue: (id, at) => this.call(() => inner.getValue(id, at)),
      putPending: (id, token, value, rt) => this.call(() => inner.putPending(id, token, value, rt)),
      moveStage: (id, stage, move) => this.call(() => inner.moveStage(id, stage, move)),
      listVersions: (id) => this.call(() => inner.listVersions(id)),
      tag: (id, tags) => this.call(() => inner.tag(id, tags)),
      untag: (id, keys) => this.call(() => inner.untag(id, keys)),
    };
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    if (this.mode === 'before') this.tick();
    const result = await work();
    if (this.mode === 'after') this.tick();
    return result;
  }
}
