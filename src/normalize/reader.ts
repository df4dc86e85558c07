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
}

export interface ReadRecordsOptions {
  /**
   * How much text to hold while deciding whether input whose first line is not JSON is one
   * pretty-printed object; past it the input is read as NDJSON. Default 64 MiB.
   */
  readonly maxDocumentChars?: number;
}

const DEFAULT_MAX_DOCUMENT_CHARS = 64 * 1024 * 1024;

/** Records in input order, in batches (one per chunk read) to keep per-record overhead low. */
export async function* readRecordBatches(
  input: AsyncIterable<Buffer | string>,
  options: ReadRecordsOptions = {},
): AsyncGenerator<InputRecord[]> {
  const maxDocumentChars = options.maxDocumentChars ?? DEFAULT_MAX_DOCUMENT_CHARS;
  const chunks = input[Symbol.asyncIterator]();
  const decode = createDecoder();
  let text = '';
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const next = await chunks.next();
    if (next.done === true) {
      ended = true;
      text += decode.end();
      return false;
    }
    text += decode.write(next.value);
    return true;
  };

  // Read until the first non-blank character and the end of its line are known.
  let first = -1;
  let firstLineEnd = -1;
  for (;;) {
    if (first < 0) first = text.search(/\S/);
    if (first >= 0) {
      firstLineEnd = text.indexOf('\n', first);
      if (firstLineEnd >= 0) break;
    }
    if (!(await more())) break;
  }
  if (first < 0) return; // empty or blank input: nothing to do, nothing wrong
  const firstLineNumber = countLines(text, 0, first) + 1;

  if (text[first] === '[') {
    while (await more());
    yield splitArray(text, first, firstLineNumber);
    return;
  }

  const firstLine = text.slice(first, firstLineEnd < 0 ? text.length : firstLineEnd);
  if (text[first] === '{' && !isJson(firstLine)) {
    let complete = false;
    while (!complete && text.length <= maxDocumentChars) complete = !(await more());
    if (complete) {
      const whole = text.slice(first).trim();
      if (isJson(whole)) {
        yield [{ text: whole, line: firstLineNumber, verbatim: false }];
        return;
      }
    }
  }

  // NDJSON: whatever has been read so far, then the rest of the stream.
  let lineNumber = 1;
  for (;;) {
    const batch: InputRecord[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      pushLine(batch, text, start, nl, lineNumber++);
      start = nl + 1;
    }
    text = text.slice(start);
    if (!(await more())) {
      if (text.length > 0) pushLine(batch, text, 0, text.length, lineNumber);
      if (batch.length > 0) yield batch;
      return;
    }
    if (batch.length > 0) yield batch;
  }
}

function pushLine(batch: InputRecord[], text: string, start: number, end: number, line: number): void {
  let stop = end;
  if (stop > start && text.charCodeAt(stop - 1) === 13) stop--; // CRLF
  const content = text.slice(start, stop);
  if (content.trim().length === 0) return; // blank lines separate nothing and mean nothing
  batch.push({ text: content, line, verbatim: true });
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
 * knows the line it starts on. Text after the closing bracket becomes a record of its own (and
 * so a reject naming its line).
 */
function splitArray(text: string, open: number, openLine: number): InputRecord[] {
  const records: InputRecord[] = [];
  let line = openLine;
  let depth = 0;
  let inString = false;
  let elementStart = -1;
  let elementLine = line;
  let index = 0;
  const flush = (end: number): void => {
    if (elementStart < 0) return;
    const element = text.slice(elementStart, end).trim();
    if (element.length > 0) records.push({ text: element, line: elementLine, index, verbatim: false });
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
        flush(i);
        i++;
        break;
      }
      depth--;
    } else if (c === 44 && depth === 0) {
      flush(i);
      continue;
    }
    if (elementStart < 0 && c !== 32 && c !== 9 && c !== 10 && c !== 13) {
      elementStart = i;
      elementLine = line;
    }
  }
  if (i >= text.length && elementStart >= 0) flush(text.length); // unterminated array
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
