/**
 * Framing of `parse` input into records, as the interface contract says:
 * - first non-blank character `[`: one JSON array (PowerShell `ConvertTo-Json`), read whole and cut
 *   into its top-level elements, each remembered with the line it starts on;
 * - first line not a JSON value on its own, but the whole text one JSON object: that object (a
 *   pretty-printed record or page);
 * - anything else: NDJSON, streamed line by line, so that memory stays flat and a bad line is a
 *   reject of that line only.
 * UTF-8 (with or without BOM) and UTF-16LE with BOM (what Windows PowerShell 5.1 writes by default).
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
}

const DEFAULT_MAX_DOCUMENT_CHARS = 64 * 1024 * 1024;

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
    // Read on until the first line is complete, looking at each new chunk only.
    let lineDone = (head.at(-1) ?? '').slice((head.at(-1) ?? '').search(/\S/)).includes('\n');
    while (!lineDone) {
      const chunk = await more();
      if (chunk === undefined) break;
      lineDone = chunk.includes('\n');
    }
    const sofar = head.join('');
    head.length = 0;
    head.push(sofar);
    const start = sofar.search(/\S/);
    const newline = sofar.indexOf('\n', start);
    if (!isJson(sofar.slice(start, newline < 0 ? sofar.length : newline))) {
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
  const lines = createLineSplitter();
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

/** Lines across chunk boundaries; a line's pieces are joined once, when its newline arrives. */
function createLineSplitter(): LineSplitter {
  let pieces: string[] = [];
  let lineNumber = 1;
  const emit = (line: string, into: InputRecord[]): void => {
    const content = line.endsWith('\r') ? line.slice(0, -1) : line; // CRLF
    // Blank lines separate nothing and mean nothing.
    if (content.trim().length > 0) into.push({ text: content, line: lineNumber, verbatim: true });
    lineNumber++;
  };
  return {
    feed(chunk, into) {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        const piece = chunk.slice(start, nl);
        if (pieces.length === 0) emit(piece, into);
        else {
          pieces.push(piece);
          emit(pieces.join(''), into);
          pieces = [];
        }
        start = nl + 1;
      }
      if (start < chunk.length) pieces.push(chunk.slice(start));
    },
    end(into) {
      if (pieces.length > 0) emit(pieces.join(''), into);
      pieces = [];
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

/** UTF-8 by default; a byte order mark switches to UTF-16LE or is dropped (UTF-8). */
function createDecoder(): Decoder {
  let decoder: StringDecoder | undefined;
  let head = Buffer.alloc(0);
  let firstText = true;
  const start = (): string => {
    let skip = 0;
    if (head[0] === 0xff && head[1] === 0xfe) {
      decoder = new StringDecoder('utf16le');
      skip = 2;
    } else {
      decoder = new StringDecoder('utf8');
      if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) skip = 3;
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
      return head.length < 3 ? '' : start();
    },
    end() {
      const rest = decoder === undefined && head.length > 0 ? start() : '';
      return rest + (decoder?.end() ?? '');
    },
  };
}
