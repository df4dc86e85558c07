import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readRecordBatches, type InputRecord, type ReadRecordsOptions } from '../../src/normalize/index.js';

async function read(chunks: (string | Buffer)[], options?: ReadRecordsOptions): Promise<InputRecord[]> {
  const records: InputRecord[] = [];
  for await (const batch of readRecordBatches(Readable.from(chunks, { objectMode: true }), options))
    records.push(...batch);
  return records;
}

describe('NDJSON', () => {
  it('one record per line, 1-based line numbers, blank lines skipped, CRLF stripped', async () => {
    const records = await read(['{"a":1}\r\n\n  \n{"b":2}\n', '{"c":', '3}']);
    expect(records).toEqual([
      { text: '{"a":1}', line: 1, verbatim: true },
      { text: '{"b":2}', line: 4, verbatim: true },
      { text: '{"c":3}', line: 5, verbatim: true },
    ]);
  });

  it('a bad line is a record of its own; the following lines go on', async () => {
    const records = await read(['{"a":1}\nnot json\n{"b":2}\n']);
    expect(records.map((r) => [r.line, r.text])).toEqual([
      [1, '{"a":1}'],
      [2, 'not json'],
      [3, '{"b":2}'],
    ]);
  });

  it('multi-byte characters split across chunks survive', async () => {
    const bytes = Buffer.from('{"s":"Réunion 会议 📅"}\n', 'utf8');
    const chunks = [...bytes].map((b) => Buffer.from([b])); // one byte per chunk
    expect((await read(chunks))[0]?.text).toBe('{"s":"Réunion 会议 📅"}');
  });

  it('a UTF-8 byte order mark is dropped', async () => {
    const records = await read([Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n')])]);
    expect(records[0]?.text).toBe('{"a":1}');
  });

  it('UTF-16LE with a byte order mark (Windows PowerShell Out-File) is decoded', async () => {
    const body = Buffer.from('[{"a":"é"},\r\n{"b":2}]\r\n', 'utf16le');
    const records = await read([Buffer.concat([Buffer.from([0xff, 0xfe]), body])]);
    expect(records.map((r) => [r.text, r.line, r.index])).toEqual([
      ['{"a":"é"}', 1, 0],
      ['{"b":2}', 2, 1],
    ]);
  });

  it('UTF-16 without a byte order mark, LE or BE, is decoded, also split at odd bytes', async () => {
    const text = '{"a":"é"}\r\n\r\n{"b":"€"}\r\n';
    const le = Buffer.from(text, 'utf16le');
    const be = Buffer.from(le).swap16();
    for (const body of [le, be, Buffer.concat([Buffer.from([0xfe, 0xff]), be])]) {
      const chunks = [body.subarray(0, 1), body.subarray(1, 6), body.subarray(6, 13), body.subarray(13)];
      for (const input of [[body], chunks]) {
        const records = await read(input);
        expect(records.map((r) => [r.text, r.line])).toEqual([
          ['{"a":"é"}', 1],
          ['{"b":"€"}', 3],
        ]);
      }
    }
  });

  it('a UTF-8 input shorter than four bytes is still UTF-8', async () => {
    expect((await read([Buffer.from('1\n')])).map((r) => r.text)).toEqual(['1']);
    expect((await read([Buffer.from('{}')])).map((r) => r.text)).toEqual(['{}']);
  });

  it('a line longer than maxLineChars is a problem naming it; the lines after it are read', async () => {
    const tooLong = (line: number): string =>
      `line ${String(line)} is longer than 10 characters, the most one record may hold (one row or page per line): skipped`;
    const text = '{"a":1}\n' + 'y'.repeat(300) + '\n{"b":2}\n' + 'z'.repeat(11);
    for (const chunks of [[text], text.match(/[\s\S]{1,4}/g) ?? []]) {
      const records = await read(chunks, { maxLineChars: 10 });
      expect(records).toEqual([
        { text: '{"a":1}', line: 1, verbatim: true },
        { text: 'y'.repeat(256) + '…', line: 2, verbatim: false, problem: tooLong(2) },
        { text: '{"b":2}', line: 3, verbatim: true },
        { text: 'z'.repeat(11) + '…', line: 4, verbatim: false, problem: tooLong(4) },
      ]);
    }
    // A first line that starts like a document and is longer than one may be is such a line too.
    const first = '{' + 'w'.repeat(50);
    const records = await read([first.slice(0, 20), first.slice(20) + '\n{"c":3}\n'], {
      maxLineChars: 10,
      maxDocumentChars: 10,
    });
    expect(records.map((r) => [r.line, r.problem === undefined])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('empty and blank input yield nothing', async () => {
    expect(await read([])).toEqual([]);
    expect(await read(['  \n\n'])).toEqual([]);
  });

  it('a last line without newline is read', async () => {
    expect(await read(['{"a":1}'])).toEqual([{ text: '{"a":1}', line: 1, verbatim: true }]);
  });
});

describe('one JSON array', () => {
  it('elements with the line they start on and their index; strings with brackets, commas and quotes', async () => {
    const text = '\n[\n  {"s": "a, ] } [ {\\" x"},\n  {\n    "n": [1, 2]\n  }  ,\n  "x"\n]\n';
    const records = await read([text.slice(0, 9), text.slice(9)]);
    expect(records).toEqual([
      { text: '{"s": "a, ] } [ {\\" x"}', line: 3, index: 0, verbatim: false },
      { text: '{\n    "n": [1, 2]\n  }', line: 4, index: 1, verbatim: false },
      { text: '"x"', line: 7, index: 2, verbatim: false },
    ]);
  });

  it('an empty array yields nothing', async () => {
    expect(await read(['[ ]'])).toEqual([]);
  });

  it('text after the closing bracket is a record on its own line (to be rejected there)', async () => {
    const records = await read(['[{"a":1}]\n\ngarbage']);
    expect(records.at(-1)).toEqual({ text: 'garbage', line: 3, verbatim: true });
  });

  it('an unterminated array yields what it has, then a problem naming the line where input ended', async () => {
    const records = await read(['[{"a":1},\n{"b":']);
    expect(records).toEqual([
      { text: '{"a":1}', line: 1, index: 0, verbatim: false },
      { text: '{"b":', line: 2, index: 1, verbatim: false },
      {
        text: '',
        line: 2,
        verbatim: false,
        problem: 'unterminated JSON array: the input ends before its closing ] (cut short?)',
      },
    ]);
    for (const cut of ['[', '[{"a":1}', '[{"a":1},', '[\n{"a":1},\n']) {
      const last = (await read([cut])).at(-1);
      expect(last?.problem, cut).toMatch(/^unterminated JSON array/);
    }
  });

  it.each([
    ['[{"a":1},,{"b":2}]', [0, 2], 1],
    ['[{"a":1},]', [0], 1],
    ['[,{"a":1}]', [1], 0],
  ])('%s: an empty element is a problem at its index', async (text, elementIndexes, problemIndex) => {
    const records = await read([text]);
    expect(records.filter((r) => r.problem === undefined).map((r) => r.index)).toEqual(elementIndexes);
    expect(records.filter((r) => r.problem !== undefined).map((r) => r.index)).toEqual([problemIndex]);
    expect(records.find((r) => r.problem !== undefined)?.problem).toMatch(/^empty element/);
  });

  it('a long line or one-line array arriving in small chunks is read whole', async () => {
    const row = JSON.stringify({ s: 'x'.repeat(1000) });
    const array = '[' + Array.from({ length: 200 }, () => row).join(',') + ']';
    const chunks = array.match(/[\s\S]{1,64}/g) ?? [];
    const records = await read(chunks);
    expect(records).toHaveLength(200);
    expect(records.every((r) => r.text === row)).toBe(true);
    const line = JSON.stringify({ s: 'y'.repeat(100_000) });
    const ndjson = (await read((line + '\n' + line + '\n').match(/[\s\S]{1,64}/g) ?? [])).map((r) => r.text);
    expect(ndjson).toEqual([line, line]);
  });
});

describe('one pretty-printed object', () => {
  it('is one record, at the line of its first character', async () => {
    const records = await read(['\n{\n  "value": [\n', '  ]\n}\n']);
    expect(records).toEqual([{ text: '{\n  "value": [\n  ]\n}', line: 2, verbatim: false }]);
  });

  it('input whose first line is not JSON and whose whole is not one object is NDJSON', async () => {
    const records = await read(['{\n"a":1}\n{"b":2}\n']);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3]);
  });

  it('past maxDocumentChars the input is read as NDJSON', async () => {
    const records = await read(['{\n', '"a": 1\n', '}\n'], { maxDocumentChars: 2 });
    expect(records.map((r) => r.text)).toEqual(['{', '"a": 1', '}']);
  });
});
