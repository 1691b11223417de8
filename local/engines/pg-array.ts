/** One element of a parsed PostgreSQL array literal: text, NULL, or a nested array. */
export type PgArrayElement = string | null | readonly PgArrayElement[];

/**
 * Parses PostgreSQL's text form of an array (`{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`) into
 * nested arrays of element text. Leading dimension decorations (`[0:1]={...}`) are skipped.
 * @throws Error when the literal is malformed.
 */
export function parsePgArray(text: string): readonly PgArrayElement[] {
  let i = text.startsWith('[') ? text.indexOf('=') + 1 : 0;

  const parseLevel = (): PgArrayElement[] => {
    if (text[i] !== '{') throw new Error(`malformed array literal at ${i}`);
    i++;
    const out: PgArrayElement[] = [];
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      if (text[i] === '{') out.push(parseLevel());
      else if (text[i] === '"') out.push(parseQuoted());
      else out.push(parseBare());
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return out;
      }
      throw new Error(`malformed array literal at ${i}`);
    }
  };

  const parseQuoted = (): string => {
    i++;
    let value = '';
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      value += text[i] ?? '';
      i++;
    }
    i++;
    return value;
  };

  const parseBare = (): string | null => {
    const start = i;
    while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
    const raw = text.slice(start, i).trim();
    return raw.toUpperCase() === 'NULL' ? null : raw;
  };

  return parseLevel();
}
