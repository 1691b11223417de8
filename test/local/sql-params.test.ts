import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { referencedNames, scanSql, toPositional } from '../../local/rds-data/sql-params.js';

const names = (sql: string, dialect: 'postgres' | 'mysql' = 'postgres'): string[] =>
  referencedNames(scanSql(sql, dialect));

describe(':name parameters', () => {
  it('finds names outside literals, identifiers and comments', () => {
    assert.deepEqual(names('SELECT :a, :b_2 FROM t WHERE x = :a'), ['a', 'b_2']);
  });

  it("skips names inside standard strings with doubled quotes ('it''s :x')", () => {
    assert.deepEqual(names("SELECT 'it''s :x', :y"), ['y']);
  });

  it("skips names inside PostgreSQL escape strings (E'\\' :x')", () => {
    assert.deepEqual(names("SELECT E'\\' :x', :y"), ['y']);
  });

  it('treats a backslash in a standard PostgreSQL string as an ordinary character', () => {
    assert.deepEqual(names("SELECT 'C:\\', :y"), ['y']);
  });

  it('skips names inside dollar-quoted bodies, tagged or not', () => {
    assert.deepEqual(names('SELECT $$ :x $$, $fn$ :x $fn$, :y'), ['y']);
  });

  it('keeps positional $1 and identifiers with $ apart from dollar quotes', () => {
    assert.deepEqual(names('SELECT a$b$, :y'), ['y']);
  });

  it('skips names in quoted identifiers, line comments and nested block comments', () => {
    assert.deepEqual(names('SELECT 1 AS "a:b" /* :x /* :x */ :x */ -- :x\n, :y'), ['y']);
  });

  it('does not take the type of a ::cast for a parameter', () => {
    assert.deepEqual(names('SELECT :v::text, x::int, y :: text'), ['v']);
  });

  it('reads MySQL backslash escapes, double-quoted strings, backticks and # comments', () => {
    assert.deepEqual(names("SELECT 'a\\' :x', \"b :x\", `c:x` # :x\n, :y", 'mysql'), ['y']);
  });

  it('needs a space after -- for a MySQL comment, as MySQL does', () => {
    assert.deepEqual(names('SELECT 1 --:y', 'mysql'), ['y']);
    assert.deepEqual(names('SELECT 1 -- :x', 'mysql'), []);
  });

  it('does not mistake MySQL := for a parameter', () => {
    assert.deepEqual(names('SELECT @a := 1, :y', 'mysql'), ['y']);
  });

  it('sees a second statement after a semicolon, but not a trailing semicolon or comment', () => {
    assert.equal(scanSql('SELECT 1; SELECT 2', 'postgres').multipleStatements, true);
    assert.equal(scanSql('SELECT 1;  -- done\n', 'postgres').multipleStatements, false);
    assert.equal(scanSql("SELECT ';' AS s", 'postgres').multipleStatements, false);
  });

  it('numbers PostgreSQL placeholders once per name and adds the type cast', () => {
    const out = toPositional(
      scanSql('SELECT :a, :b, :a', 'postgres'),
      'postgres',
      (n) => n,
      (n) => (n === 'a' ? '::int8' : ''),
    );
    assert.equal(out.sql, 'SELECT $1::int8, $2, $1::int8');
    assert.deepEqual(out.values, ['a', 'b']);
  });

  it('gives MySQL one ? per reference, repeating values', () => {
    const out = toPositional(scanSql('SELECT :a, :b, :a', 'mysql'), 'mysql', (n) => n);
    assert.equal(out.sql, 'SELECT ?, ?, ?');
    assert.deepEqual(out.values, ['a', 'b', 'a']);
  });
});
