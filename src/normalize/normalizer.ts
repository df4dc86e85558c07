/**
 * The normalizer: any message trace input — a row of any API, an API page, a Sekoia-style
 * envelope, a PowerShell array — to ECS events, and every record it cannot map to a reject with
 * its reason. It never throws on input: whatever comes in yields events or rejects.
 */
import { createDirectionResolver } from './direction.js';
import { extract, pageElementShapeOf, shapeOf } from './dialects.js';
import { detailToEcs, rowToEcs, type EcsContext, type MessageTraceEvent, type Profile } from './ecs.js';

export interface NormalizeOptions {
  /** `full` (default): seed fields plus ECS enrichments; `seed`: exactly the documented fields. */
  readonly profile?: Profile;
  /** organization.name for rows that do not carry one (Graph rows). */
  readonly organization?: string;
  /** The tenant's accepted domains, for email.direction (full profile). */
  readonly acceptedDomains?: readonly string[];
  /**
   * The tenant the input was collected from: its configured `name` becomes
   * office365.message_trace.tenant and its `tenantId` organization.id (full profile).
   */
  readonly tenant?: { readonly name: string; readonly id: string };
}

export interface NormalizeReject {
  readonly reason: string;
  /** The text that was rejected: the whole input, or one row of a page or array. */
  readonly input: string;
  /** Position of the rejected row inside a page or array, when it came from one. */
  readonly row?: number;
}

export interface NormalizeResult {
  readonly events: MessageTraceEvent[];
  readonly rejects: NormalizeReject[];
}

export interface Normalizer {
  /**
   * One input text: a record, an envelope, a page, or an array of those. With `verbatim` (the
   * default) a single record keeps this text as its `message`; without, its compact JSON.
   */
  normalizeText(text: string, verbatim?: boolean): NormalizeResult;
  /**
   * An already parsed value. `original` is the `message` text for a single record; without it
   * (and for every row expanded from a page) the row's compact JSON is used.
   */
  normalizeValue(value: unknown, original?: string): NormalizeResult;
}

// Envelopes inside pages inside arrays are plausible; deeper nesting is not message trace.
const MAX_NESTING = 4;

export function createNormalizer(options: NormalizeOptions = {}): Normalizer {
  const ctx: EcsContext = {
    profile: options.profile ?? 'full',
    directionOf: createDirectionResolver(options.acceptedDomains ?? []),
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
  };
  const organization =
    options.organization !== undefined && options.organization.length > 0 ? options.organization : undefined;

  /**
   * `original` is the record's own text when it has one (an NDJSON line, an envelope's message);
   * `inputText` is what a reject shows when it has none (the whole input text, for a record that
   * came as a pretty-printed document or array element).
   */
  function visit(
    value: unknown,
    original: string | undefined,
    inputText: string | undefined,
    row: number | undefined,
    depth: number,
    out: NormalizeResult,
    pageElement = false,
  ): void {
    const reject = (reason: string): void => {
      pushReject(out, reason, original ?? inputText ?? compactJson(value) ?? UNPRINTABLE, row);
    };
    if (depth > MAX_NESTING) {
      reject(`nested more than ${MAX_NESTING} levels deep`);
      return;
    }
    // An array in a page is no row (a reject, below), but one nested past the limit says so
    // first, as any input that deep does.
    if (pageElement && nestsPast(value, depth)) {
      reject(`nested more than ${MAX_NESTING} levels deep`);
      return;
    }
    // A page's element is one row as the source counted it: never expanded again (dialects.ts).
    const shape = pageElement ? pageElementShapeOf(value) : shapeOf(value);
    switch (shape.kind) {
      case 'list':
      case 'page': {
        // Each row of a page or array is its own record; its message is its compact JSON. An
        // array's element is a whole input (it may be a page); a page's element is a row, and so
        // is anything inside it.
        const items = shape.kind === 'list' ? shape.items : shape.rows;
        const ofPage = shape.kind === 'page' || pageElement;
        items.forEach((item, i) => {
          visit(item, undefined, undefined, i, depth + 1, out, ofPage);
        });
        return;
      }
      case 'envelope': {
        let inner: unknown;
        try {
          inner = JSON.parse(shape.message);
        } catch (error) {
          reject(`envelope field "message" is not JSON: ${errorText(error)}`);
          return;
        }
        // The envelope's text, trailing newline included, is the record's original text.
        visit(inner, shape.message, undefined, row, depth + 1, out);
        return;
      }
      default: {
        const text = original ?? compactJson(value);
        if (text === undefined) {
          reject('record too deeply nested to serialize as its message');
          return;
        }
        const extracted = extract(shape, { original: text, organization });
        if (!extracted.ok) {
          reject(extracted.reason);
          return;
        }
        const record = extracted.record;
        out.events.push(record.kind === 'row' ? rowToEcs(record, ctx) : detailToEcs(record, ctx));
      }
    }
  }

  return {
    normalizeText(text, verbatim = true) {
      const out: NormalizeResult = { events: [], rejects: [] };
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        out.rejects.push({ reason: `invalid JSON: ${errorText(error)}`, input: text });
        return out;
      }
      visit(value, verbatim ? text : undefined, text, undefined, 0, out);
      return out;
    },
    normalizeValue(value, original) {
      const out: NormalizeResult = { events: [], rejects: [] };
      visit(value, original, undefined, undefined, 0, out);
      return out;
    },
  };
}

/**
 * Normalize one input — text (a JSON record, envelope, page or array) or an already parsed
 * value — with the given options. For many inputs, create one normalizer and reuse it.
 */
export function normalize(input: unknown, options: NormalizeOptions = {}): NormalizeResult {
  const normalizer = createNormalizer(options);
  return typeof input === 'string' ? normalizer.normalizeText(input) : normalizer.normalizeValue(input);
}

/** Whether arrays inside `value` (at `depth`) hold anything deeper than MAX_NESTING. */
function nestsPast(value: unknown, depth: number): boolean {
  if (depth > MAX_NESTING) return true;
  return Array.isArray(value) && value.some((item) => nestsPast(item, depth + 1));
}

const UNPRINTABLE = '(input too deeply nested to print)';

function pushReject(out: NormalizeResult, reason: string, input: string, row: number | undefined): void {
  out.rejects.push(row === undefined ? { reason, input } : { reason, input, row });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The value's compact JSON, or undefined when it has none (too deep for the stack, or not JSON). */
function compactJson(value: unknown): string | undefined {
  try {
    // JSON.stringify returns undefined for undefined, functions and symbols, whatever its type says.
    const json: string | undefined = JSON.stringify(value);
    return json;
  } catch {
    return undefined;
  }
}
