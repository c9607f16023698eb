import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { TextDecoder } from 'node:util';
import { ECHO_CHARS, excerpt, InputError } from '../util/errors.js';

/**
 * A byte-level CSV reader for large logs (chosen by measurement, docs/benchmarks.md):
 * 16 MB reads, fields located by offsets into the byte buffer, numbers parsed straight
 * from bytes, strings decoded only when asked. Handles RFC 4180 quoting (delimiters,
 * doubled quotes and line breaks inside quotes), CRLF or LF line ends, a UTF-8 BOM,
 * and UTF-8 or latin-1 text. Text that is not valid UTF-8 under `utf8` is an input error
 * suggesting latin-1, not replacement characters.
 */
export interface CsvOptions {
  readonly delimiter?: string;
  /** Treat `"` as a quote character (RFC 4180). Off for formats that never quote. */
  readonly quotes?: boolean;
  readonly encoding?: 'utf8' | 'latin1';
  readonly chunkBytes?: number;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/** Blanks around a number (a stray CR, a space after the delimiter) are not part of it. */
function isBlank(byte: number): boolean {
  return byte === SPACE || byte === TAB || byte === CR;
}

/** Bytes of a field decoded for a message: enough for `excerpt`'s 80 characters in any encoding. */
const EXCERPT_BYTES = 4 * ECHO_CHARS;

/** Why the reader cannot use `delimiter` (it needs one ASCII character, not a quote or a line end), or null. */
export function delimiterProblem(delimiter: string): string | null {
  if (delimiter.length === 1 && delimiter.charCodeAt(0) <= 0x7f && !['"', '\n', '\r'].includes(delimiter)) return null;
  return 'expected one ASCII character other than a quote or a line end, e.g. "," or ";" or a tab';
}

export function checkDelimiter(delimiter: string): void {
  const problem = delimiterProblem(delimiter);
  if (problem !== null) throw new InputError(`--delimiter ${excerpt(delimiter)}: ${problem}`);
}

/** One record; valid only during the callback (its buffer is reused). */
export class CsvRecord {
  buf: Uint8Array = new Uint8Array(0);
  /** 1-based physical line on which the record starts. */
  line = 0;
  /** Byte offset of the record in the file (for progress). */
  offset = 0;
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  quoted = new Uint8Array(64);

  private readonly decoder: TextDecoder;
  /** Decodes message excerpts, whose last character may be cut. */
  private readonly lenient: TextDecoder;

  constructor(
    readonly file: string,
    encoding: 'utf8' | 'latin1',
  ) {
    const label = encoding === 'latin1' ? 'latin1' : 'utf-8';
    this.decoder = new TextDecoder(label, { fatal: true });
    this.lenient = new TextDecoder(label);
  }

  /** The field's text, quotes removed and doubled quotes collapsed. */
  text(i: number): string {
    let s: string;
    try {
      s = this.decoder.decode(this.buf.subarray(this.starts[i], this.ends[i]));
    } catch {
      throw new InputError(
        `${this.file}:${this.line}: field ${i + 1} is not valid UTF-8 (${this.excerpt(i)}); if the file is latin-1, use --encoding latin1`,
      );
    }
    return this.quoted[i] ? s.replace(/""/g, '"') : s;
  }

  /** Field i as quoted in a message: at most 80 characters, however long the field. */
  excerpt(i: number): string {
    const bytes = this.ends[i] - this.starts[i];
    const head = this.lenient.decode(this.buf.subarray(this.starts[i], this.starts[i] + Math.min(bytes, EXCERPT_BYTES)));
    if (bytes <= EXCERPT_BYTES && head.length <= ECHO_CHARS) return excerpt(head);
    return `${JSON.stringify(head.slice(0, ECHO_CHARS))}… (${bytes} bytes)`;
  }

  /** Integer value of field i, or NaN when it is not a base-10 integer. Blanks around it are ignored. */
  int(i: number): number {
    const buf = this.buf;
    let p = this.starts[i];
    let end = this.ends[i];
    while (p < end && isBlank(buf[p])) p++;
    while (end > p && isBlank(buf[end - 1])) end--;
    let neg = false;
    if (p < end && (buf[p] === 0x2d || buf[p] === 0x2b)) {
      neg = buf[p] === 0x2d;
      p++;
    }
    if (p === end) return NaN;
    let v = 0;
    for (; p < end; p++) {
      const d = buf[p] - 0x30;
      if (d < 0 || d > 9) return NaN;
      v = v * 10 + d;
    }
    return neg ? -v : v;
  }

  /** Decimal value of field i, or NaN. Simple decimals are parsed from bytes, exactly as Number() would. */
  float(i: number): number {
    const buf = this.buf;
    let p = this.starts[i];
    let end = this.ends[i];
    while (p < end && isBlank(buf[p])) p++;
    while (end > p && isBlank(buf[end - 1])) end--;
    let neg = false;
    if (p < end && (buf[p] === 0x2d || buf[p] === 0x2b)) {
      neg = buf[p] === 0x2d;
      p++;
    }
    let mant = 0;
    let digits = 0;
    let scale = 1;
    let seenDot = false;
    for (; p < end; p++) {
      const c = buf[p];
      if (c === 0x2e && !seenDot) {
        seenDot = true;
        continue;
      }
      const d = c - 0x30;
      if (d < 0 || d > 9) break;
      mant = mant * 10 + d;
      digits++;
      if (seenDot) scale *= 10;
    }
    if (p === end && digits > 0 && digits <= 15) {
      // Both operands are exact doubles, so the quotient is correctly rounded, like Number().
      const v = mant / scale;
      return neg ? -v : v;
    }
    const text = this.text(i).trim();
    return text === '' ? NaN : Number(text);
  }
}

/** Calls `onRecord` for each record of the file, in order. Empty lines are skipped. */
export function readCsv(path: string, opts: CsvOptions, onRecord: (rec: CsvRecord) => void): void {
  if (!existsSync(path)) throw new InputError(`${path}: file not found`);
  if (statSync(path).size === 0) throw new InputError(`${path}: file is empty`);
  checkDelimiter(opts.delimiter ?? ',');
  const delim = (opts.delimiter ?? ',').charCodeAt(0);
  const useQuotes = opts.quotes ?? true;
  const chunkBytes = opts.chunkBytes ?? 1 << 24;
  const rec = new CsvRecord(path, opts.encoding ?? 'utf8');
  const fd = openSync(path, 'r');
  try {
    let buf = new Uint8Array(chunkBytes);
    let carry = 0; // bytes of an unfinished record kept at the start of buf
    let line = 1;
    let base = 0; // file offset of buf[0]
    let first = true;
    for (;;) {
      if (carry === buf.length) {
        // A single record larger than the buffer: grow it.
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const got = readSync(fd, buf, carry, buf.length - carry, null);
      const eof = got === 0;
      const len = carry + got;
      let pos = 0;
      if (first) {
        first = false;
        if (len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
      }
      rec.buf = buf;
      // Parse every complete record in buf[pos, len).
      for (;;) {
        rec.line = line;
        rec.offset = base + pos;
        const next = scanRecord(buf, pos, len, eof, delim, useQuotes, rec);
        if (next < 0) break; // incomplete: needs more bytes
        line += countNewlines(buf, pos, next);
        const blank = rec.count === 1 && rec.ends[0] === rec.starts[0] && !rec.quoted[0];
        if (!blank) onRecord(rec);
        pos = next;
        if (pos >= len) break;
      }
      if (eof) break;
      carry = len - pos;
      base += pos;
      buf.copyWithin(0, pos, len);
    }
  } finally {
    closeSync(fd);
  }
}

function countNewlines(buf: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let p = from; p < to; p++) if (buf[p] === LF) n++;
  return n;
}

/**
 * Locates the fields of the record starting at `pos`. Returns the offset just past its line
 * end, or -1 when the record is not complete within `len` bytes (and more may come).
 */
function scanRecord(buf: Uint8Array, pos: number, len: number, eof: boolean, delim: number, useQuotes: boolean, rec: CsvRecord): number {
  let field = 0;
  let p = pos;
  for (;;) {
    if (field === rec.starts.length) growFields(rec);
    if (useQuotes && p < len && buf[p] === QUOTE) {
      // Quoted field: runs to the next quote not followed by another quote.
      let q = p + 1;
      for (;;) {
        while (q < len && buf[q] !== QUOTE) q++;
        if (q >= len) return eof ? fail(rec, 'unterminated quoted field') : -1;
        if (q + 1 < len && buf[q + 1] === QUOTE) {
          q += 2;
          continue;
        }
        if (q + 1 >= len && !eof) return -1;
        break;
      }
      rec.starts[field] = p + 1;
      rec.ends[field] = q;
      rec.quoted[field] = 1;
      p = q + 1;
      // After the closing quote: a delimiter, a line end, or the end of the data.
      if (p < len && buf[p] !== delim && buf[p] !== LF && buf[p] !== CR) {
        return fail(rec, 'unexpected character after a closing quote');
      }
    } else {
      rec.starts[field] = p;
      while (p < len && buf[p] !== delim && buf[p] !== LF) p++;
      if (p >= len && !eof) return -1;
      let end = p;
      if (end > rec.starts[field] && buf[end - 1] === CR && (p >= len || buf[p] === LF)) end--;
      rec.ends[field] = end;
      rec.quoted[field] = 0;
    }
    field++;
    if (p < len && buf[p] === delim) {
      p++;
      continue;
    }
    if (p < len && buf[p] === CR) p++;
    if (p < len && buf[p] === LF) p++;
    else if (p < len) return fail(rec, 'bad line end');
    rec.count = field;
    return p;
  }
}

function growFields(rec: CsvRecord): void {
  const n = rec.starts.length * 2;
  const s = new Int32Array(n);
  s.set(rec.starts);
  const e = new Int32Array(n);
  e.set(rec.ends);
  const q = new Uint8Array(n);
  q.set(rec.quoted);
  rec.starts = s;
  rec.ends = e;
  rec.quoted = q;
}

function fail(rec: CsvRecord, what: string): never {
  throw new InputError(`${rec.file}:${rec.line}: ${what}`);
}
