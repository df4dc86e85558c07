/**
 * Framing of `parse` input into records, as the interface contract says:
 * - first non-blank character `[`: one JSON array (PowerShell `ConvertTo-Json`), read whole and cut
 *   into its top-level elements, each remembered with the line it starts on;
 * - first line not a JSON value on its own, but the whole text one JSON object: that object (a
 *   pretty-printed record or page);
 * - anything else: NDJSON, streamed line by line, so that memory stays flat and a bad line is a
 *   reject of that line only.
 * UTF-8 (with or without BOM) and UTF-16 (LE or BE, with or without BOM: Windows PowerShell 5.1
 * writes UTF-16LE with a BOM, some tools write it without).
 */
import { StringDecoder } from 'node:string_decoder';

export interface InputRecord {
  readonly text: string;
  /** 1-based line where the record starts. */
  readonly line: number;
  /** Position in a top-level JSON array, when the input is one. */
  readonly index?: number;
  /**
   * True when `text` is the record exactly as written (an NDJSON line), and so the `message` to
   * keep; false for array elements and pretty-printed documents, whose compact JSON is kept.
   */
  readonly verbatim: boolean;
  /**
   * Set when the input itself is broken here (an empty element, an unterminated array): the
   * record is to be rejected with this reason.
   */
  readonly problem?: string;
}

export interface ReadRecordsOptions {
  /**
   * How much text to hold while deciding whether input whose first line is not JSON is one
   * pretty-printed object; past it the input is read as NDJSON. Default 64 MiB.
   */
  readonly maxDocumentChars?: number;
  /**
   * The longest NDJSON line held as one record; a longer one becomes a record with a `problem`
   * (its line, the limit) and the lines after it are read on. Default 64 MiB (in characters):
   * Node cannot hold a string past 512 MiB, and a page of 5,000 rows is ~10 MiB.
   */
  readonly maxLineChars?: number;
}

const DEFAULT_MAX_DOCUMENT_CHARS = 64 * 1024 * 1024;
export const DEFAULT_MAX_LINE_CHARS = 64 * 1024 * 1024;

/** How much of a line too long to keep, as the reject's `input`. */
const TOO_LONG_EXCERPT_CHARS = 256;

/**
 * Records in input order, in batches (one per chunk read) to keep per-record overhead low.
 * Every chunk is scanned once: a long line or a one-line document arriving in many small pipe
 * chunks costs time in proportion to its length, not to its square.
 */
export async function* readRecordBatches(
  input: AsyncIterable<Buffer | string>,
  options: ReadRecordsOptions = {},
): AsyncGenerator<InputRecord[]> {
  const maxDocumentChars = options.maxDocumentChars ?? DEFAULT_MAX_DOCUMENT_CHARS;
  const maxLineChars = options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS;
  const source = decodedChunks(input)[Symbol.asyncIterator]();
  // Chunks read before the input's kind is known; they are replayed once it is.
  const head: string[] = [];
  let headChars = 0;
  let ended = false;
  const more = async (): Promise<string | undefined> => {
    if (ended) return undefined;
    const next = await source.next();
    if (next.done === true) {
      ended = true;
      return undefined;
    }
    head.push(next.value);
    headChars += next.value.length;
    return next.value;
  };

  // 1. The first non-blank character (and the line it is on).
  let firstChar = '';
  let firstLineNumber = 1;
  for (let chunk = await more(); chunk !== undefined; chunk = await more()) {
    const at = chunk.search(/\S/);
    firstLineNumber += countLines(chunk, 0, at < 0 ? chunk.length : at);
    if (at >= 0) {
      firstChar = chunk.charAt(at);
      break;
    }
  }
  if (firstChar === '') return; // empty or blank input: nothing to do, nothing wrong

  // 2. One JSON array: read whole, then cut into elements.
  if (firstChar === '[') {
    while ((await more()) !== undefined);
    const whole = head.join('');
    yield splitArray(whole, whole.search(/\S/), firstLineNumber);
    return;
  }

  // 3. One pretty-printed object: its first line is no JSON value on its own.
  if (firstChar === '{') {
    // Read on until the first line is complete, looking at each new chunk only (and no further
    // than a document may be: a longer first line is an NDJSON line, too long or not).
    let lineDone = (head.at(-1) ?? '').slice((head.at(-1) ?? '').search(/\S/)).includes('\n');
    while (!lineDone && headChars <= maxDocumentChars) {
      const chunk = await more();
      if (chunk === undefined) break;
      lineDone = chunk.includes('\n');
    }
    const sofar = lineDone ? head.join('') : '';
    if (lineDone) {
      head.length = 0;
      head.push(sofar);
    }
    const start = sofar.search(/\S/);
    const newline = sofar.indexOf('\n', start);
    if (lineDone && !isJson(sofar.slice(start, newline < 0 ? sofar.length : newline))) {
      let complete = false;
      while (!complete && headChars <= maxDocumentChars) complete = (await more()) === undefined;
      if (complete) {
        const whole = head.join('').trim();
        if (isJson(whole)) {
          yield [{ text: whole, line: firstLineNumber, verbatim: false }];
          return;
        }
      }
    }
  }

  // 4. NDJSON: what has been read so far, then the rest of the stream.
  const lines = createLineSplitter(maxLineChars);
  const replay: InputRecord[] = [];
  for (const chunk of head) lines.feed(chunk, replay);
  head.length = 0;
  if (replay.length > 0) yield replay;
  for (let chunk = await more(); chunk !== undefined; chunk = await more()) {
    head.length = 0; // `more` keeps what it reads for the phases above; not needed any more
    const batch: InputRecord[] = [];
    lines.feed(chunk, batch);
    if (batch.length > 0) yield batch;
  }
  const last: InputRecord[] = [];
  lines.end(last);
  if (last.length > 0) yield last;
}

interface LineSplitter {
  feed(chunk: string, into: InputRecord[]): void;
  end(into: InputRecord[]): void;
}

/**
 * Lines across chunk boundaries; a line's pieces are joined once, when its newline arrives. A line
 * longer than `maxLineChars` is never joined (past 512 MiB Node cannot, and says only "Invalid
 * string length"): its pieces are dropped as they come, its start is kept for the reject, and the
 * line after it is read as usual.
 */
function createLineSplitter(maxLineChars: number): LineSplitter {
  let pieces: string[] = [];
  let pieceChars = 0;
  // The start of the line being read, once it is known to be too long.
  let tooLong: string | undefined;
  let lineNumber = 1;
  const emit = (line: string, into: InputRecord[]): void => {
    const content = line.endsWith('\r') ? line.slice(0, -1) : line; // CRLF
    // Blank lines separate nothing and mean nothing.
    if (content.trim().length > 0) into.push({ text: content, line: lineNumber, verbatim: true });
    lineNumber++;
  };
  const emitTooLong = (into: InputRecord[]): void => {
    into.push({
      text: `${tooLong ?? ''}…`,
      line: lineNumber,
      verbatim: false,
      problem:
        `line ${String(lineNumber)} is longer than ${String(maxLineChars)} characters, the most one ` +
        'record may hold (one row or page per line): skipped',
    });
    lineNumber++;
    tooLong = undefined;
  };
  const add = (piece: string): void => {
    if (tooLong !== undefined) {
      if (tooLong.length < TOO_LONG_EXCERPT_CHARS)
        tooLong += piece.slice(0, TOO_LONG_EXCERPT_CHARS - tooLong.length);
      return;
    }
    pieces.push(piece);
    pieceChars += piece.length;
    if (pieceChars > maxLineChars) {
      tooLong = pieces.join('').slice(0, TOO_LONG_EXCERPT_CHARS);
      pieces = [];
      pieceChars = 0;
    }
  };
  const finish = (into: InputRecord[]): void => {
    if (tooLong !== undefined) emitTooLong(into);
    else if (pieces.length === 1) emit(pieces[0] ?? '', into);
    else emit(pieces.join(''), into);
    pieces = [];
    pieceChars = 0;
  };
  return {
    feed(chunk, into) {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        const piece = chunk.slice(start, nl);
        // The usual case, a whole line in this chunk, without the bookkeeping of pieces.
        if (pieces.length === 0 && tooLong === undefined && piece.length <= maxLineChars) emit(piece, into);
        else {
          add(piece);
          finish(into);
        }
        start = nl + 1;
      }
      if (start < chunk.length) add(chunk.slice(start));
    },
    end(into) {
      if (pieces.length > 0 || tooLong !== undefined) finish(into);
    },
  };
}

async function* decodedChunks(input: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decode = createDecoder();
  for await (const chunk of input) {
    const text = decode.write(chunk);
    if (text.length > 0) yield text;
  }
  const rest = decode.end();
  if (rest.length > 0) yield rest;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The top-level elements of a JSON array, found by scanning (strings and nesting respected), so
 * that each element is parsed on its own: one broken element is one reject, and each element
 * knows the line it starts on. What makes the array itself broken — an empty element, a missing
 * closing bracket (an export cut short), text after it — becomes a record with a `problem`, so
 * that it is reported with its line instead of passing for success.
 */
function splitArray(text: string, open: number, openLine: number): InputRecord[] {
  const records: InputRecord[] = [];
  let line = openLine;
  let depth = 0;
  let inString = false;
  let elementStart = -1;
  let elementLine = line;
  let index = 0;
  let afterComma = false;
  let closed = false;
  const flush = (end: number, atClose: boolean): void => {
    if (elementStart < 0) {
      // `[]` is an empty array; `[,`, `[a,,b]` and `[a,]` have an empty element.
      if (!atClose || afterComma) {
        records.push({
          text: '',
          line,
          index,
          verbatim: false,
          problem: 'empty element in the JSON array (a comma too many)',
        });
        index++;
      }
      return;
    }
    records.push({ text: text.slice(elementStart, end).trim(), line: elementLine, index, verbatim: false });
    index++;
    elementStart = -1;
  };
  let i = open + 1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character (never a newline in valid JSON)
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 91 || c === 123) depth++;
    else if (c === 93 || c === 125) {
      if (depth === 0 && c === 93) {
        flush(i, true);
        closed = true;
        i++;
        break;
      }
      depth--;
    } else if (c === 44 && depth === 0) {
      flush(i, false);
      afterComma = true;
      continue;
    }
    if (elementStart < 0 && c !== 32 && c !== 9 && c !== 10 && c !== 13) {
      elementStart = i;
      elementLine = line;
      afterComma = false;
    }
  }
  if (!closed) {
    if (elementStart >= 0) flush(text.length, true);
    records.push({
      text: '',
      line,
      verbatim: false,
      problem: 'unterminated JSON array: the input ends before its closing ] (cut short?)',
    });
    return records;
  }
  const restStart = text.slice(i).search(/\S/);
  if (restStart >= 0) {
    const at = i + restStart;
    records.push({ text: text.slice(at).trim(), line: line + countLines(text, i, at), verbatim: true });
  }
  return records;
}

interface Decoder {
  write(chunk: Buffer | string): string;
  end(): string;
}

/**
 * UTF-8 by default; a byte order mark switches to UTF-16LE or UTF-16BE, or is dropped (UTF-8).
 * Without a mark, UTF-16 is told from the zero bytes around the first characters, as RFC 4627
 * (section 3) detects JSON's encoding: a JSON text starts with ASCII, so UTF-16LE reads
 * `xx 00 xx 00` and UTF-16BE `00 xx 00 xx`, which no UTF-8 text does. Without this, a file saved
 * as UTF-16 without a mark gave one "invalid JSON" per line and no hint why.
 */
function createDecoder(): Decoder {
  let decoder: Decoder | undefined;
  let head = Buffer.alloc(0);
  let firstText = true;
  const start = (): string => {
    let skip = 0;
    const [b0, b1, b2, b3] = [head[0], head[1], head[2], head[3]];
    if (b0 === 0xff && b1 === 0xfe) {
      decoder = new StringDecoder('utf16le');
      skip = 2;
    } else if (b0 === 0xfe && b1 === 0xff) {
      decoder = createUtf16BeDecoder();
      skip = 2;
    } else if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) {
      decoder = new StringDecoder('utf8');
      skip = 3;
    } else if (b0 !== 0 && b1 === 0 && (b2 === undefined || (b2 !== 0 && b3 === 0))) {
      decoder = new StringDecoder('utf16le');
    } else if (b0 === 0 && b1 !== undefined && b1 !== 0 && (b2 === undefined || (b2 === 0 && b3 !== 0))) {
      decoder = createUtf16BeDecoder();
    } else {
      decoder = new StringDecoder('utf8');
    }
    const out = decoder.write(head.subarray(skip));
    head = Buffer.alloc(0);
    return out;
  };
  return {
    write(chunk) {
      if (typeof chunk === 'string') {
        const out = firstText && chunk.startsWith('\uFEFF') ? chunk.slice(1) : chunk;
        firstText = false;
        return out;
      }
      if (decoder !== undefined) return decoder.write(chunk);
      head = Buffer.concat([head, chunk]);
      return head.length < 4 ? '' : start();
    },
    end() {
      const rest = decoder === undefined && head.length > 0 ? start() : '';
      return rest + (decoder?.end() ?? '');
    },
  };
}

/** UTF-16BE, which Node's decoders lack: each pair of bytes swapped, then read as UTF-16LE. */
function createUtf16BeDecoder(): Decoder {
  const le = new StringDecoder('utf16le');
  let odd: Buffer | undefined; // a byte whose partner is in the next chunk
  return {
    write(chunk) {
      const bytes = odd === undefined ? Buffer.from(chunk) : Buffer.concat([odd, Buffer.from(chunk)]);
      const even = bytes.length - (bytes.length % 2);
      odd = even < bytes.length ? bytes.subarray(even) : undefined;
      const swapped = Buffer.from(bytes.subarray(0, even));
      swapped.swap16();
      return le.write(swapped);
    },
    end() {
      return le.end(odd);
    },
  };
}
