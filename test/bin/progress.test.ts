import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressReporter } from '../../bin/cli/progress.js';
import type { ProgressSink } from '../../lambda/index.js';

function output(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, out: { isTTY, write: (t: string) => chunks.push(t) } };
}

/** One pass over a table with three encrypted columns of 100 rows each, in pages of 50. */
function threeColumnPass(sink: ProgressSink, total = 300): void {
  ['options', 'extra', 'meta'].forEach((column, i) => {
    for (let done = 50; done <= 100; done += 50)
      sink({ table: 'data_sources', column, rows: done, columnRows: 100, done: i * 100 + done, total });
  });
}

describe('progress', () => {
  it("counts a table's rows, not its values over all columns, in plain lines when not on a terminal", () => {
    const { chunks, out } = output(false);
    const reporter = progressReporter(out);
    threeColumnPass(reporter.phase('setSecret'));
    reporter.end();
    assert.deepEqual(chunks, [
      'setSecret: 16%, data_sources.options: 50 rows\n',
      'setSecret: 33%, data_sources.options: 100 rows\n',
      'setSecret: data_sources.options: 100 rows done\n',
      'setSecret: 50%, data_sources.extra: 50 rows\n',
      'setSecret: 66%, data_sources.extra: 100 rows\n',
      'setSecret: data_sources.extra: 100 rows done\n',
      'setSecret: 83%, data_sources.meta: 50 rows\n',
      'setSecret: 100%, data_sources.meta: 100 rows\n',
      'setSecret: data_sources.meta: 100 rows done\n',
    ]);
  });

  it('prints a line per tenth of the pass, not per page', () => {
    const { chunks, out } = output(false);
    const reporter = progressReporter(out);
    const sink = reporter.phase('testSecret');
    for (let done = 5; done <= 200; done += 5)
      sink({ table: 't', column: 'a', rows: done, columnRows: 200, done, total: 200 });
    reporter.end();
    assert.equal(chunks.length, 12); // 0%, 10%, ... 100%, and the column's last line
    assert.equal(chunks.at(-1), 'testSecret: t.a: 200 rows done\n');
  });

  it('draws a bar with the phase, the share of the pass, the column and its rows on a terminal', () => {
    const { chunks, out } = output(true);
    const reporter = progressReporter(out);
    threeColumnPass(reporter.phase('setSecret'));
    reporter.end();
    const drawn = chunks.join('');
    assert.match(drawn, /setSecret \[.*\] 100% \| data_sources\.meta: 100 rows/);
    assert.doesNotMatch(drawn, /300 rows/);
  });

  it('draws one bar per pass: a second pass in a phase (abort moving back more rows) gets its own', () => {
    const { chunks, out } = output(true);
    const reporter = progressReporter(out);
    const sink = reporter.phase('abort: moving rows back');
    threeColumnPass(sink);
    sink({ table: 'tokens', column: 'value', rows: 4, columnRows: 7, done: 4, total: 7 });
    sink({ table: 'tokens', column: 'value', rows: 7, columnRows: 7, done: 7, total: 7 });
    reporter.end();
    const drawn = chunks.join('');
    assert.match(drawn, /abort: moving rows back \[.*\] 100% \| data_sources\.meta: 100 rows/);
    assert.match(drawn, /abort: moving rows back \(pass 2\) \[.*\] 100% \| tokens\.value: 7 rows/);
  });

  it('starts a new pass in plain lines too, closing the last column of the one before', () => {
    const { chunks, out } = output(false);
    const reporter = progressReporter(out);
    const sink = reporter.phase('testSecret');
    sink({ table: 't', column: 'a', rows: 10, columnRows: 10, done: 10, total: 10 });
    sink({ table: 't', column: 'a', rows: 3, columnRows: 10, done: 3, total: 10 });
    reporter.end();
    assert.deepEqual(chunks, [
      'testSecret: 100%, t.a: 10 rows\n',
      'testSecret: t.a: 10 rows done\n',
      'testSecret (pass 2): 30%, t.a: 3 rows\n',
      'testSecret (pass 2): t.a: 3 rows done\n',
    ]);
  });

  it('counts each column on its own when a pass works on several at once', () => {
    const { chunks, out } = output(false);
    const reporter = progressReporter(out);
    const sink = reporter.phase('setSecret');
    const event = (column: string, rows: number, done: number) =>
      sink({ table: 't', column, rows, columnRows: column === 'a' ? 100 : 40, done, total: 140 });
    event('a', 50, 50);
    event('b', 20, 70);
    event('a', 100, 120);
    event('b', 30, 130); // 10 of b's rows were deleted meanwhile: it ends short, at the phase's end
    reporter.end();
    assert.deepEqual(chunks, [
      'setSecret: 35%, t.a: 50 rows\n',
      'setSecret: 50%, t.b: 20 rows\n',
      'setSecret: 85%, t.a: 100 rows\n',
      'setSecret: t.a: 100 rows done\n',
      'setSecret: 92%, t.b: 30 rows\n',
      'setSecret: t.b: 30 rows done\n',
    ]);
  });
});
