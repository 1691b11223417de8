import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import type { CliIo } from '../../bin/cli/io.js';
import { buildProgram } from '../../bin/cli/program.js';
import { fakeClock } from '../support/fake-clock.js';
import { rekey } from './helpers.js';

/** The program with every command's action replaced by one that only records the options it got. */
function parsingProgram(): {
  program: Command;
  seen: { command?: string; options?: Record<string, unknown> };
} {
  const io: CliIo = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin: { async *[Symbol.asyncIterator]() {} },
    clock: fakeClock(),
  };
  const program = buildProgram({ io, setExit: () => {} });
  const seen: { command?: string; options?: Record<string, unknown> } = {};
  for (const command of program.commands) {
    command.action((options: Record<string, unknown>) => {
      seen.command = command.name();
      seen.options = options;
    });
  }
  return { program, seen };
}

/**
 * The `rekey` arguments of one example line as a shell would split them: from the word `rekey` (after a
 * pipe or inside `$(...)` too) up to a pipe, a redirection, a `)` or a comment; quotes removed.
 */
function exampleArgv(line: string): string[] | undefined {
  const match = /(?:^|[\s(|])rekey\s/.exec(line);
  if (!match) return undefined;
  const rest = line.slice(match.index + match[0].length);
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (const c of rest) {
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '>') {
      if (/^[0-9]$/.test(word)) inWord = false; // 2> file
      break;
    } else if ('|)#;'.includes(c)) {
      break;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

async function commandNames(): Promise<string[]> {
  return parsingProgram().program.commands.map((c) => c.name());
}

/** The lines of a command's "Examples:" block, without the `$ `. */
async function examplesOf(command: string): Promise<string[]> {
  const help = (await rekey([command, '--help'])).stdout;
  const block = help.split('\nExamples:\n')[1] ?? '';
  return block
    .split('\n')
    .map((l) => /^\s+\$ (.*)$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined);
}

describe('the --help examples', async () => {
  const names = await commandNames();

  it('cover every command', async () => {
    for (const name of names) assert.ok((await examplesOf(name)).length > 0, `${name} has no examples`);
  });

  for (const name of names) {
    it(`parse as written for '${name}'`, async () => {
      for (const line of await examplesOf(name)) {
        const argv = exampleArgv(line);
        if (argv === undefined) continue; // another tool's command (aws ...)
        const { program, seen } = parsingProgram();
        await assert.doesNotReject(program.parseAsync(argv, { from: 'user' }), `example: ${line}`);
        assert.equal(seen.command, argv[0], `example: ${line}`);
      }
    });
  }
});

describe('--output json', async () => {
  const { program: listed } = parsingProgram();
  /** The least a command needs to parse: a value for each required option. */
  const required = (name: string) =>
    (listed.commands.find((c) => c.name() === name)?.options ?? [])
      .filter((o) => o.mandatory)
      .flatMap((o) => [o.long ?? '', 'x']);

  for (const command of listed.commands.filter((c) => c.options.some((o) => o.long === '--json'))) {
    const name = command.name();
    it(`means --json for '${name}', as the AWS CLI spells it`, async () => {
      const { program, seen } = parsingProgram();
      await program.parseAsync([name, ...required(name), '--output', 'json'], { from: 'user' });
      assert.equal(seen.options?.json, true);
    });
  }

  it('leaves --json off with --output text', async () => {
    const { program, seen } = parsingProgram();
    await program.parseAsync(['status', '--secret-id', 'app', '--output', 'text'], { from: 'user' });
    assert.equal(seen.options?.json, undefined);
  });
});

describe('exampleArgv', () => {
  it('splits an example as the shell would, from the rekey word to a pipe, redirection or comment', () => {
    assert.deepEqual(exampleArgv("rekey status --secret-id prod/app --json | jq -r '.health'"), [
      'status',
      '--secret-id',
      'prod/app',
      '--json',
    ]);
    assert.deepEqual(exampleArgv('eval "$(rekey local --check | grep ^export)"   # in a script'), [
      'local',
      '--check',
    ]);
    assert.deepEqual(exampleArgv('printenv KEY | rekey init --config "my file.json" --adopt-key-file -'), [
      'init',
      '--config',
      'my file.json',
      '--adopt-key-file',
      '-',
    ]);
    assert.deepEqual(exampleArgv('rekey resume --config rekey.json 2> resume.log'), [
      'resume',
      '--config',
      'rekey.json',
    ]);
    assert.equal(exampleArgv('aws secretsmanager list-secrets   # with the exported variables'), undefined);
  });
});
