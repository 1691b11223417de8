import type { SqlRunner } from '../../lambda/ports.js';

/**
 * `inner`, keeping every statement it sends in `sent`, in order. `before(n)` runs just before the n-th
 * statement (from 1) goes out, so a test can change the world at an exact point of a step. Every
 * argument and transaction call is passed on as it is: a spy that dropped the options would change
 * what it spies on (typed records instead of JSON, no check for a missing result set).
 */
export function recordingRunner(
  inner: SqlRunner,
  before?: (n: number) => void,
): SqlRunner & { readonly sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    dialect: inner.dialect,
    execute: (sql, params, options) => {
      before?.(sent.length + 1);
      sent.push(sql);
      return inner.execute(sql, params, options);
    },
    begin: () => inner.begin(),
    commit: (tx) => inner.commit(tx),
    rollback: (tx) => inner.rollback(tx),
  };
}

/** {@link recordingRunner} that runs `hook` just before statement number `at` goes out. */
export function hookedRunner(
  inner: SqlRunner,
  at: number,
  hook: () => void,
): SqlRunner & { readonly sent: string[] } {
  return recordingRunner(inner, (n) => {
    if (n === at) hook();
  });
}
