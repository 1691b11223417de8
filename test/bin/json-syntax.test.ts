import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonSyntaxProblem } from '../../bin/cli/json-syntax.js';

describe('jsonSyntaxProblem', () => {
  it('finds nothing wrong in valid JSON', () => {
    for (const text of [
      '{}',
      '[]',
      ' {"a": [1, -2.5e3, true, false, null, "x\\"y\\u00e9\\n"], "b": {}} \n',
      '"just a string"',
      '0',
    ]) {
      assert.equal(jsonSyntaxProblem(text), undefined, text);
    }
  });

  it('gives the line and column of the first error and what was expected there', () => {
    const cases: [string, { line: number; column: number; problem: RegExp }][] = [
      ['{\n  "a": 1,\n  b: 2\n}', { line: 3, column: 3, problem: /property name in double quotes/ }],
      ['{"a": 1,}', { line: 1, column: 9, problem: /a comma before the closing \}/ }],
      ['[1, 2,]', { line: 1, column: 7, problem: /a comma before the closing \]/ }],
      ['{"a" 1}', { line: 1, column: 6, problem: /expected ':'/ }],
      ['{"a": tru}', { line: 1, column: 7, problem: /expected a value/ }],
      ['{"a": 1} x', { line: 1, column: 10, problem: /after the end of the JSON value/ }],
      ['{"a": "b\n"}', { line: 1, column: 9, problem: /control character/ }],
      ['{"a": 1', { line: 1, column: 8, problem: /found the end of the file/ }],
      ["{'a': 1}", { line: 1, column: 2, problem: /single quote/ }],
      ['{\n  // a comment\n}', { line: 2, column: 3, problem: /no comments/ }],
      ['', { line: 1, column: 1, problem: /end of the file/ }],
    ];
    for (const [text, expected] of cases) {
      const found = jsonSyntaxProblem(text);
      assert.ok(found, text);
      assert.deepEqual([found.line, found.column], [expected.line, expected.column], text);
      assert.match(found.problem, expected.problem, text);
      assert.throws(() => JSON.parse(text), SyntaxError, text);
    }
  });

  it('never repeats the text it found, only its kind', () => {
    const found = jsonSyntaxProblem('{"a": sekrit}');
    assert.ok(found);
    assert.doesNotMatch(found.problem, /sekrit/);
  });
});
