// Mutation testing of the code that decides what is safe (issue 10): `npm run mutation`.
//
// Tests run with node:test through tsx, so Stryker's built-in command runner runs a test command once
// per mutant (it cannot pick tests per mutant). The mutated code is split into groups, each with the
// fast test files that exercise it; `REKEY_MUTATION_GROUP=<name> npm run mutation` runs one group,
// without it every group runs at once (with the union of the commands). Each command chains its files
// with `&&`, fastest and most targeted first: a mutant counts as killed as soon as one file fails, so
// the slow files only run for the mutants that the fast ones let live (same outcome, less time).
//
// Mutants that only change what a log line, an operator notice or an error message says are ignored
// (the ignorer below): they cannot change what the rotation does, and a test that pins message text
// tests wording, not safety. Ignored mutants still appear in the report, as "Ignored".
import { existsSync, readFileSync } from 'node:fs';
import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin';

// `--test-force-exit`: a test process that used PGlite lingers about 10 s after its last test ends;
// the verdict is in by then. `--test-timeout`: a mutant that leaves a promise pending fails its test
// (killed) instead of running into Stryker's far longer timeout; crash-matrix's one test runs every
// interruption point, so it gets longer. The file that kills a mutant is appended to
// /tmp/stryker-report/<group>-killed-by.txt (Stryker's command runner only sees the exit code).
const SLOW_TESTS = new Set(['test/lambda/crash-matrix.test.ts']);
/** A link of a command: a test file, or `{ file, pattern }` for the tests of a file that match. */
const tsx = (links, group) =>
  links
    .map((link) => (typeof link === 'string' ? { file: link } : link))
    .filter(({ file }) => existsSync(file) && !(file === SAFETY && process.env.REKEY_MUTATION_EXISTING_ONLY))
    .map(({ file, pattern }) => {
      const only = pattern === undefined ? '' : ` --test-name-pattern="${pattern}"`;
      const timeout = SLOW_TESTS.has(file) ? 240_000 : 30_000;
      const name = pattern === undefined ? file : `${file}(quick)`;
      return (
        `npx tsx --test --test-force-exit --test-timeout=${timeout}${only} ${file} ` +
        `|| { echo "$__STRYKER_ACTIVE_MUTANT__ ${name}" >> /tmp/stryker-report/${group}-killed-by.txt; exit 1; }`
      );
    })
    .join(' && ');

/**
 * The tests written to kill survivors, first in every command (it is fast). Set
 * REKEY_MUTATION_EXISTING_ONLY=1 to measure the other tests without it.
 */
const SAFETY = 'test/lambda/safety-mutants.test.ts';
/** Its tests that need no database: two seconds, where the whole file takes ten on a busy machine. */
const SAFETY_QUICK = {
  file: SAFETY,
  pattern:
    'rekey reads the marks|goes on only while|AWSCURRENT already|createSecret waits out|proves something only when|key ring reloads no more|rekey abort decides',
};

// Other work moves lines around: the ranges to mutate are found by the code they start and end
// with, not by fixed line numbers.
/**
 * `file:start-end` from the first line matching `from` to the first line from there on matching
 * `to` (a function's closing brace by default: `}` at the indentation of its first line).
 */
function span(file, from, to) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => from.test(l));
  if (start < 0) throw new Error(`stryker.conf.mjs: no line of ${file} matches ${from}`);
  const indent = /^\s*/.exec(lines[start])[0];
  const end =
    to === undefined
      ? lines.findIndex((l, i) => i > start && l === `${indent}}`)
      : lines.findIndex((l, i) => i >= start && to.test(l));
  if (end < 0) throw new Error(`stryker.conf.mjs: no end for ${from} in ${file}`);
  return `${file}:${start + 1}-${end + 1}`;
}
const fn = (file, name) => span(file, new RegExp(`^(export )?(async )?function ${name}\\b`));
const method = (file, name) => span(file, new RegExp(`^  (private )?(async )?${name}\\(`));

const GROUPS = {
  keyring: {
    mutate: [
      span('lambda/keyring.ts', /^const DEFAULT_MIN_REFRESH_INTERVAL_MS/, /^const REFRESH_AHEAD_FRACTION/),
      span('lambda/keyring.ts', /this\.minRefreshIntervalMs = /, /this\.refreshAheadMs = /),
      method('lambda/keyring.ts', 'refresh'),
      method('lambda/keyring.ts', 'decrypt'),
      method('lambda/keyring.ts', 'currentKeyToWrite'),
      method('lambda/keyring.ts', 'refreshAhead'),
    ],
    tests: [SAFETY_QUICK, 'test/lambda/keyring.test.ts', 'test/lambda/sdk-adapters.test.ts', SAFETY],
  },
  guards: {
    mutate: [
      'lambda/stage-guard.ts',
      'lambda/reader-bound.ts',
      'lambda/rotation-marks.ts',
      // runStep's state checks
      fn('lambda/steps.ts', 'runStep'),
      // testSecret, with its allowance for rows written under AWSCURRENT after the catch-up pass
      fn('lambda/steps.ts', 'testSecret'),
      fn('lambda/steps.ts', 'finishSecret'),
      fn('lambda/steps.ts', 'completePromotion'),
      fn('lambda/steps.ts', 'holdsAnotherKey'),
      fn('lambda/steps.ts', 'verificationProblems'),
    ],
    tests: [
      SAFETY_QUICK,
      SAFETY,
      'test/lambda/promotion.test.ts',
      'test/lambda/steps.test.ts',
      'test/bin/operator-races.test.ts',
      'test/lambda/crash-matrix.test.ts',
    ],
  },
  abort: {
    mutate: ['lambda/abort.ts'],
    tests: [SAFETY_QUICK, SAFETY, 'test/bin/abort.test.ts', 'test/bin/operator-races.test.ts'],
  },
  verify: {
    mutate: [
      // verifyAll's classification (which key is AWSCURRENT's, each row's class, the count after the
      // read; not its progress events), checkKeysReachable and `opens`, incompleteRead
      span('lambda/passes/verify.ts', /const first = versions\.sources\[0\];/, /\.target\.kid;$/),
      span('lambda/passes/verify.ts', /for \(const \{ table, keys, firstSourceKid/, /^ {6}\}\);$/),
      span('lambda/passes/verify.ts', /result\.counted\.after = /, /result\.counted\.after = /),
      fn('lambda/passes/verify.ts', 'checkKeysReachable'),
      fn('lambda/passes/verify.ts', 'opens'),
      fn('lambda/passes/verify.ts', 'incompleteRead'),
    ],
    tests: [
      SAFETY_QUICK,
      SAFETY,
      'test/lambda/steps.test.ts',
      'test/lambda/promotion.test.ts',
      'test/local/id-columns.test.ts',
      'test/lambda/crash-matrix.test.ts',
    ],
  },
  reencrypt: {
    mutate: [
      // reencrypt's call of checkNothingLeft, checkNothingLeft
      span(
        'lambda/passes/reencrypt.ts',
        /if \(column\.scanned === 0 && w\.rows > 0\)/,
        /checkNothingLeft\(deps, w, column\)/,
      ),
      fn('lambda/passes/reencrypt.ts', 'checkNothingLeft'),
      fn('lambda/passes/reencrypt.ts', 'rewriteValue'),
      fn('lambda/passes/reencrypt.ts', 'resolveConflicts'),
      fn('lambda/passes/reencrypt.ts', 'unchangedRows'),
    ],
    tests: [
      SAFETY,
      'test/lambda/steps.test.ts',
      'test/lambda/promotion.test.ts',
      'test/lambda/overlap.test.ts',
      'test/local/id-columns.test.ts',
      'test/lambda/crash-matrix.test.ts',
    ],
  },
  sql: {
    mutate: [
      // compareAndSwap's dispatch and compareAndSwapArrays (PostgreSQL)
      span('lambda/sql.ts', /^ {2}async compareAndSwap\(/, /return this\.compareAndSwapArrays\(/),
      method('lambda/sql.ts', 'compareAndSwapArrays'),
      method('lambda/sql.ts', 'valueFilter'),
    ],
    tests: [
      SAFETY,
      'test/local/id-columns.test.ts',
      'test/lambda/steps.test.ts',
      'test/lambda/overlap.test.ts',
      'test/lambda/promotion.test.ts',
      'test/lambda/crash-matrix.test.ts',
    ],
  },
  // compareAndSwap's MySQL statement: only the suites on a real MariaDB send it (CI sets the URL, as
  // in .ci/run: REKEY_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test).
  'sql-mysql': {
    mutate: [span('lambda/sql.ts', /^ {2}async compareAndSwap\(/, /return result\.updated;/)],
    tests: process.env.REKEY_TEST_MYSQL_URL
      ? ['test/real/mysql.real-test.ts', 'test/real/rotation-mysql.real-test.ts']
      : [],
  },
  // What the tests written for survivors kill on their own, to confirm that each kills its mutant:
  // pass the survivors' lines with --mutate (e.g. --mutate lambda/steps.ts:199-199,lambda/abort.ts:84-84).
  safety: {
    mutate: [],
    tests: [SAFETY_QUICK, SAFETY],
  },
};

const name = process.env.REKEY_MUTATION_GROUP;
if (name !== undefined && !(name in GROUPS)) {
  throw new Error(`REKEY_MUTATION_GROUP must be one of ${Object.keys(GROUPS).join(', ')}, got '${name}'`);
}
if (name === 'sql-mysql' && !process.env.REKEY_TEST_MYSQL_URL) {
  throw new Error(
    'REKEY_MUTATION_GROUP=sql-mysql needs REKEY_TEST_MYSQL_URL (a MariaDB or MySQL to test on)',
  );
}
const chosen = name === undefined ? Object.values(GROUPS).filter((g) => g !== GROUPS.safety) : [GROUPS[name]];
const testFiles = [...new Set(chosen.flatMap((g) => g.tests))];

// Only log lines, notices and message-first errors: errors whose arguments are data (row ids, counts,
// key ids: StrandedRowsError, WriteMissedError, IncompletePassError, AbortRaceError, StaleKeyRingError)
// keep their mutants.
const MESSAGE_ERRORS = new Set([
  'Error',
  'RotationStateError',
  'VerificationError',
  'DecryptError',
  'ConfigError',
  'SecretFormatError',
  'RowTooLargeError',
]);
const LOG_METHODS = new Set(['debug', 'info', 'warn', 'error']);

const messageText = {
  shouldIgnore(path) {
    const node = path.node;
    if (node.type === 'CallExpression') {
      const callee = node.callee;
      if (callee.type === 'Identifier' && callee.name === 'notice') return 'an operator notice (abort)';
      if (
        callee.type === 'MemberExpression' &&
        callee.property.type === 'Identifier' &&
        LOG_METHODS.has(callee.property.name) &&
        ((callee.object.type === 'Identifier' && callee.object.name === 'log') ||
          (callee.object.type === 'MemberExpression' &&
            callee.object.property.type === 'Identifier' &&
            callee.object.property.name === 'log'))
      ) {
        return 'a log line';
      }
    }
    const parent = path.parentPath?.node;
    if (
      parent?.type === 'NewExpression' &&
      parent.callee.type === 'Identifier' &&
      MESSAGE_ERRORS.has(parent.callee.name) &&
      parent.arguments[0] === node
    ) {
      return "an error's message text";
    }
    return undefined;
  },
};

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, 'rekey-message-text', messageText)];

export default {
  $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
  packageManager: 'npm',
  plugins: ['@stryker-mutator/*', './stryker.conf.mjs'],
  ignorers: ['rekey-message-text'],
  mutate: chosen.flatMap((g) => g.mutate),
  testRunner: 'command',
  commandRunner: {
    command: name === undefined ? tsx(testFiles, 'all') : tsx(GROUPS[name].tests, name),
  },
  coverageAnalysis: 'off',
  checkers: [],
  concurrency: 2,
  // Added to 1.5 times the command's time in the initial run: a mutant that loops or waits forever.
  timeoutMS: 30_000,
  timeoutFactor: 1.5,
  // The sandboxes live outside the work tree (nothing to ignore in git); Stryker deletes them after a run.
  tempDirName: '/tmp/rekey-stryker',
  cleanTempDir: 'always',
  reporters: ['clear-text', 'json', 'progress-append-only'],
  jsonReporter: { fileName: `/tmp/stryker-report/${name ?? 'all'}.json` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0, reportMutants: true },
  thresholds: { high: 90, low: 75, break: null },
};
