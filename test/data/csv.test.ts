import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCsv } from '../../src/data/csv.js';
import { InputError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';

function records(content: string | Uint8Array, opts: Parameters<typeof readCsv>[1] = {}): Array<{ line: number; fields: string[] }> {
  const path = join(tempDir(), 'x.csv');
  writeFileSync(path, content);
  const out: Array<{ line: number; fields: string[] }> = [];
  readCsv(path, opts, (r) => out.push({ line: r.line, fields: Array.from({ length: r.count }, (_, i) => r.text(i)) }));
  return out;
}

describe('readCsv', () => {
  it('handles CRLF, a UTF-8 BOM, quoted fields with commas, doubled quotes and line breaks', () => {
    const text = '\ufeffid,title\r\n1,"Heat, The (1995)"\r\n2,"Say ""hi"""\r\n3,"two\r\nlines"\r\n\r\n4,plain\r\n';
    expect(records(text)).toEqual([
      { line: 1, fields: ['id', 'title'] },
      { line: 2, fields: ['1', 'Heat, The (1995)'] },
      { line: 3, fields: ['2', 'Say "hi"'] },
      { line: 4, fields: ['3', 'two\r\nlines'] },
      { line: 7, fields: ['4', 'plain'] },
    ]);
  });

  it('reads records that straddle read chunks, and a last line without a line end', () => {
    const rows = Array.from({ length: 200 }, (_, i) => `${i},"name, ${i}",${i / 2}`);
    const got = records(rows.join('\n'), { chunkBytes: 64 });
    expect(got).toHaveLength(200);
    expect(got[137]).toEqual({ line: 138, fields: ['137', 'name, 137', '68.5'] });
  });

  it('decodes latin-1 when asked', () => {
    const bytes = Uint8Array.from([0x31, 0x7c, 0x43, 0x61, 0x66, 0xe9, 0x0a]); // "1|Café\n" in latin-1
    expect(records(bytes, { delimiter: '|', encoding: 'latin1', quotes: false })[0].fields).toEqual(['1', 'Café']);
  });

  it('parses numbers from bytes exactly as Number() does', () => {
    const path = join(tempDir(), 'n.csv');
    const values = ['4.5', '0.5', '3', '-12', '1e3', '964982703', '2.675', 'abc', ''];
    writeFileSync(path, `${values.join('\n')}\n`);
    const floats: number[] = [];
    const ints: number[] = [];
    readCsv(path, {}, (r) => {
      floats.push(r.float(0));
      ints.push(r.int(0));
    });
    // the blank last value makes an empty line, which is skipped
    expect(floats).toEqual([4.5, 0.5, 3, -12, 1000, 964982703, 2.675, NaN]);
    expect(ints).toEqual([NaN, NaN, 3, -12, NaN, 964982703, NaN, NaN]);
  });

  it('names the file and line of an unterminated quote; rejects missing and empty files', () => {
    const dir = tempDir();
    const path = join(dir, 'bad.csv');
    writeFileSync(path, 'a,b\n1,"oops\n2,3\n');
    expect(() => readCsv(path, {}, () => {})).toThrow(`${path}:2: unterminated quoted field`);
    writeFileSync(join(dir, 'empty.csv'), '');
    expect(() => readCsv(join(dir, 'empty.csv'), {}, () => {})).toThrow(/file is empty/);
    expect(() => readCsv(join(dir, 'none.csv'), {}, () => {})).toThrow(InputError);
  });
});
