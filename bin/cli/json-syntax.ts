/** Where a JSON text first breaks the grammar, and what was expected there. */
export interface JsonSyntaxProblem {
  /** 1-based. */
  readonly line: number;
  /** 1-based, in characters. */
  readonly column: number;
  readonly problem: string;
}

class Stop extends Error {
  constructor(
    readonly at: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/**
 * Finds the first syntax error of a JSON text, by line and column (JSON.parse on Node 20 gives a
 * position for some errors and none for others, and quotes the text around it). The problem names
 * what was found as a kind ('a letter', 'the end of the file'), never the text itself.
 * @returns `undefined` when the text is valid JSON.
 */
export function jsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  let i = 0;
  const found = () => describe(text[i]);
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const expect = (c: string, what: string) => {
    if (text[i] !== c) throw new Stop(i, `expected ${what}, found ${found()}`);
    i++;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else throw new Stop(i, `expected a value, found ${found()}`);
  };
  const string = () => {
    expect('"', 'a string');
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Stop(i, 'unterminated string: found the end of the file');
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') throw new Stop(i, 'a control character (a line break?) inside a string');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)))
            throw new Stop(i, 'a \\u escape needs four hex digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new Stop(i, 'an invalid escape in a string');
      } else i++;
    }
  };
  const number = () => {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!match || match[0] === '-') throw new Stop(i, `expected a value, found ${found()}`);
    i += match[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') object();
    else if (c === '[') array();
    else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else throw new Stop(i, `expected a value, found ${found()}`);
  };
  const object = () => {
    i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') {
        throw new Stop(
          i,
          text[i] === '}'
            ? 'a comma before the closing }'
            : `expected a property name in double quotes, found ${found()}`,
        );
      }
      string();
      ws();
      expect(':', "':' after the property name");
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      expect('}', "',' or '}'");
      return;
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === ']') throw new Stop(i, 'a comma before the closing ]');
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      expect(']', "',' or ']'");
      return;
    }
  };
  try {
    value();
    ws();
    if (i < text.length) throw new Stop(i, `${found()} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    return { ...lineAndColumn(text, error.at), problem: error.problem };
  }
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, column: at - before.lastIndexOf('\n') };
}

function describe(c: string | undefined): string {
  if (c === undefined) return 'the end of the file';
  if (/\p{L}/u.test(c)) return 'a letter';
  if (/[0-9]/.test(c)) return 'a digit';
  if (c === "'") return 'a single quote (JSON strings take double quotes)';
  if (c === '/') return 'a / (JSON has no comments)';
  return `'${c}'`;
}
