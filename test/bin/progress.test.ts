import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { progressReporter } from '../../bin/cli/progress.js';

function output(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, out: { isTTY, write: (t: string) => chunks.push(t) } };
}

describe('progress', () => {
  it('prints a plain line per column and per tenth of the pass when not on a terminal', () => {
    const { chunks, out } = output(false);
    const reporter = progressReporter(out);
    const sink = reporter.phase('setSecret');
    for (let done = 10; done <= 100; done += 5) sink({ table: 't', column: 'a', done, total: 200 });
    for (let done = 105; done <= 200; done += 5) sink({ table: 't', column: 'b', done, total: 200 });
    reporter.end();
    assert.deepEqual(chunks, [
      'setSecret: 10/200 rows (5%), t.a\n',
      'setSecret: 20/200 rows (10%), t.a\n',
      'setSecret: 40/200 rows (20%), t.a\n',
      'setSecret: 60/200 rows (30%), t.a\n',
      'setSecret: 80/200 rows (40%), t.a\n',
      'setSecret: 100/200 rows (50%), t.a\n',
      'setSecret: 105/200 rows (52%), t.b\n',
      'setSecret: 120/200 rows (60%), t.b\n',
      'setSecret: 140/200 rows (70%), t.b\n',
      'setSecret: 160/200 rows (80%), t.b\n',
      'setSecret: 180/200 rows (90%), t.b\n',
      'setSecret: 200/200 rows (100%), t.b\n',
    ]);
  });

  it('draws a bar with the phase, the counts and the column on a terminal', () => {
    const { chunks, out } = output(true);
    const reporter = progressReporter(out);
    const sink = reporter.phase('setSecret');
    sink({ table: 'data_sources', column: 'options', done: 50, total: 200 });
    sink({ table: 'data_sources', column: 'options', done: 200, total: 200 });
    reporter.end();
    const drawn = chunks.join('');
    assert.match(drawn, /setSecret \[.*\] 100% \| 200\/200 rows \| data_sources\.options/);
  });
});
