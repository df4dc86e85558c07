/**
 * The query strings the emulator's message trace endpoints receive, parsed and validated:
 *
 * - Graph `GET /{v1.0|beta}/admin/exchange/tracing/messageTraces`: OData v4 `$filter`, `$top`,
 *   `$skiptoken`, in two modes. `observed` reproduces what Microsoft was measured to do (spec §3.4:
 *   `or`/`in`/`ne`/`not` accepted but only the last value of each property kept, address functions
 *   ignored, `$select`/`$orderby`/`$count` ignored). `strict` answers 400 to all of that, so a client
 *   that depends on a silently ignored filter finds out in tests instead of in production.
 * - The `getDetailsByRecipient(recipientAddress='…')` path segment.
 * - The Reporting Web Service `MessageTrace` / `MessageTraceDetail` (OData v2, WCF Data Services).
 *
 * Pure: no I/O and no clock (callers pass `now`, in ms since the epoch). No input makes these
 * functions throw; every problem comes back as a value the handler turns into a 400.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Graph: what a list without a time filter covers (spec §3.4 "default time period"). */
export const GRAPH_DEFAULT_WINDOW_MS = 48 * HOUR_MS;
/** Graph: the longest receivedDateTime window one query may ask for. */
export const GRAPH_MAX_WINDOW_MS = 10 * DAY_MS;
/** Graph: how far back a window may start. */
export const GRAPH_HISTORY_MS = 90 * DAY_MS;
export const GRAPH_DEFAULT_TOP = 1000;
export const GRAPH_MAX_TOP = 5000;
/** Reporting Web Service: the window when the filter names no StartDate/EndDate. */
export const REPORTING_DEFAULT_WINDOW_MS = 48 * HOUR_MS;

// Deeper nesting than this is no client's filter; the cap keeps the recursive parser's stack small.
const MAX_NESTING = 32;

// ---------------------------------------------------------------------------------------------
// Public types

export type GraphFilterMode = 'observed' | 'strict';

export interface GraphEqFilters {
  id?: string;
  messageId?: string;
  senderAddress?: string;
  recipientAddress?: string;
  status?: string;
  fromIP?: string;
  toIP?: string;
  subject?: string;
}

export type SubjectFunction = 'contains' | 'startsWith' | 'endsWith';

export interface GraphListQuery {
  /** Window start, ms since the epoch, inclusive. */
  from: number;
  /** Window end, ms since the epoch, inclusive. */
  to: number;
  top: number;
  /** Opaque: the handler that minted it decodes it. */
  skipToken?: string;
  eq: GraphEqFilters;
  subject?: { op: SubjectFunction; value: string };
}

export type GraphQueryResult =
  { ok: true; query: GraphListQuery } | { ok: false; code: string; message: string };

/** What `matchesGraphFilter` reads of a row (a `TraceRow` plus its status as the API renders it). */
export interface GraphFilterRow {
  readonly traceId: string;
  readonly messageId: string | null;
  readonly sender: string | null;
  readonly recipient: string;
  readonly subject: string | null;
  /** The status string the response carries (`delivered` on v1.0, `Delivered` on beta). */
  readonly status: string;
  readonly fromIp: string | null;
  readonly toIp: string | null;
}

export type RecipientLiteralResult =
  { ok: true; address: string } | { ok: false; code: string; message: string };

/** Keyed by the report's own field names, as the `$filter` spells them. */
export interface ReportingEqFilters {
  SenderAddress?: string;
  RecipientAddress?: string;
  MessageTraceId?: string;
  Status?: string;
  MessageId?: string;
  FromIP?: string;
  ToIP?: string;
}

export interface ReportingQuery {
  /** Window start (StartDate), ms since the epoch, inclusive. */
  from: number;
  /** Window end (EndDate), ms since the epoch, inclusive. */
  to: number;
  /** The `Index` of the last row already returned; the next page starts after it. */
  skipToken?: number;
  top?: number;
  /** Absent: Atom, or JSON light when the request negotiates it with `Accept`. */
  format?: 'json';
  eq: ReportingEqFilters;
}

export type ReportingQueryResult =
  { ok: true; query: ReportingQuery } | { ok: false; status: 400; message: string };

/** What `matchesReportingFilter` reads of a row (status in the Reporting Web Service spelling). */
export interface ReportingFilterRow {
  readonly traceId: string;
  readonly messageId: string | null;
  readonly sender: string | null;
  readonly recipient: string;
  readonly status: string;
  readonly fromIp: string | null;
  readonly toIp: string | null;
}

// ---------------------------------------------------------------------------------------------
// OData $filter: tokens and syntax tree, shared by both APIs

/** Thrown inside the parsers only; the exported functions catch it and return it as a 400. */
class FilterError extends Error {}

type Token =
  | { readonly kind: 'ident'; readonly text: string; readonly pos: number }
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  /** A type-prefixed literal: `datetime'…'`, `guid'…'`, `microsoft.graph.someEnum'…'`. */
  | { readonly kind: 'typed'; readonly type: string; readonly value: string; readonly pos: number }
  /** An unquoted literal: `2026-01-20T00:00:00Z`, `42`. */
  | { readonly kind: 'bare'; readonly text: string; readonly pos: number }
  | { readonly kind: 'punct'; readonly text: '(' | ')' | ','; readonly pos: number };

type Literal =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'typed'; readonly type: string; readonly value: string }
  | { readonly kind: 'bare'; readonly text: string };

type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
const COMPARE_OPS: readonly CompareOp[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];

type Leaf =
  | { readonly kind: 'compare'; readonly property: string; readonly op: CompareOp; readonly value: Literal }
  | { readonly kind: 'in'; readonly property: string; readonly values: readonly Literal[] }
  | {
      readonly kind: 'call';
      readonly name: string;
      readonly args: readonly ({ readonly kind: 'property'; readonly name: string } | Literal)[];
    };

// `and`/`or` are n-ary so that a long flat chain of clauses does not make a deep tree to recurse over.
type Expr =
  | Leaf
  | { readonly kind: 'and' | 'or'; readonly operands: readonly Expr[] }
  | { readonly kind: 'not'; readonly operand: Expr };

const WHITESPACE = /[ \t\r\n]/;
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_.]/;
const BARE_START = /[0-9+-]/;
const BARE_PART = /[A-Za-z0-9:.+-]/;

/** `'…'` starting at `start` (the opening quote), with `''` standing for one quote. */
function readQuoted(text: string, start: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  for (;;) {
    const close = text.indexOf("'", i);
    if (close < 0) throw new FilterError(`unterminated string literal starting at position ${start}`);
    value += text.slice(i, close);
    if (text.charAt(close + 1) === "'") {
      value += "'";
      i = close + 2;
    } else {
      return { value, end: close + 1 };
    }
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (WHITESPACE.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c, pos: i });
      i++;
    } else if (c === "'") {
      const { value, end } = readQuoted(text, i);
      tokens.push({ kind: 'string', value, pos: i });
      i = end;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < text.length && IDENT_PART.test(text.charAt(j))) j++;
      const word = text.slice(i, j);
      if (text.charAt(j) === "'") {
        const { value, end } = readQuoted(text, j);
        tokens.push({ kind: 'typed', type: word, value, pos: i });
        i = end;
      } else {
        tokens.push({ kind: 'ident', text: word, pos: i });
        i = j;
      }
    } else if (BARE_START.test(c)) {
      let j = i + 1;
      while (j < text.length && BARE_PART.test(text.charAt(j))) j++;
      tokens.push({ kind: 'bare', text: text.slice(i, j), pos: i });
      i = j;
    } else {
      throw new FilterError(`unexpected character ${JSON.stringify(c)} at position ${i}`);
    }
  }
  return tokens;
}

function describeToken(token: Token | undefined): string {
  if (token === undefined) return 'the end of the filter';
  switch (token.kind) {
    case 'ident':
    case 'bare':
    case 'punct':
      return `'${clip(token.text)}' at position ${token.pos}`;
    case 'string':
      return `the string '${clip(token.value)}' at position ${token.pos}`;
    case 'typed':
      return `the literal ${token.type}'${clip(token.value)}' at position ${token.pos}`;
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Recursive descent over OData's boolean expressions: `or` binds looser than `and`, `not` and
 * parentheses bind tightest. Leaves are `prop op literal`, `prop in (literal, …)` and
 * `fn(arg, …)`. What each API makes of the tree is decided by its interpreter, not here.
 */
class Parser {
  private at = 0;

  constructor(
    private readonly tokens: readonly Token[],
    /** OData v2 (WCF) keywords are case-sensitive; Graph accepts `AND`, `Eq`… */
    private readonly caseSensitive: boolean,
  ) {}

  parse(): Expr {
    if (this.tokens.length === 0) throw new FilterError('the filter is empty');
    const expr = this.orExpr(0);
    const rest = this.peek();
    if (rest !== undefined) {
      // URLSearchParams (and every server) decodes a bare '+' as a space, which splits
      // `…T00:00:00+01:00` into a zone-less instant and a stray `01:00`.
      const hint =
        rest.kind === 'bare' && /^\d{2}:?\d{2}$/.test(rest.text) ? " (a '+' offset must be sent as %2B)" : '';
      throw new FilterError(
        `expected 'and', 'or' or the end of the filter, got ${describeToken(rest)}${hint}`,
      );
    }
    return expr;
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private next(): Token | undefined {
    const token = this.tokens[this.at];
    this.at++;
    return token;
  }

  private isKeyword(token: Token | undefined, keyword: string): boolean {
    if (token?.kind !== 'ident') return false;
    return this.caseSensitive ? token.text === keyword : token.text.toLowerCase() === keyword;
  }

  private isPunct(token: Token | undefined, text: '(' | ')' | ','): boolean {
    return token?.kind === 'punct' && token.text === text;
  }

  private expectPunct(text: '(' | ')' | ','): void {
    const token = this.next();
    if (!this.isPunct(token, text)) throw new FilterError(`expected '${text}', got ${describeToken(token)}`);
  }

  private orExpr(depth: number): Expr {
    const operands = [this.andExpr(depth)];
    while (this.isKeyword(this.peek(), 'or')) {
      this.at++;
      operands.push(this.andExpr(depth));
    }
    return operands.length === 1 && operands[0] !== undefined ? operands[0] : { kind: 'or', operands };
  }

  private andExpr(depth: number): Expr {
    const operands = [this.unary(depth)];
    while (this.isKeyword(this.peek(), 'and')) {
      this.at++;
      operands.push(this.unary(depth));
    }
    return operands.length === 1 && operands[0] !== undefined ? operands[0] : { kind: 'and', operands };
  }

  private unary(depth: number): Expr {
    if (depth > MAX_NESTING) throw new FilterError(`the filter nests deeper than ${MAX_NESTING} levels`);
    const token = this.peek();
    if (this.isKeyword(token, 'not')) {
      this.at++;
      return { kind: 'not', operand: this.unary(depth + 1) };
    }
    if (this.isPunct(token, '(')) {
      this.at++;
      const inner = this.orExpr(depth + 1);
      this.expectPunct(')');
      return inner;
    }
    if (token?.kind !== 'ident')
      throw new FilterError(`expected a property or a function, got ${describeToken(token)}`);
    this.at++;
    if (this.isPunct(this.peek(), '(')) return this.call(token.text);
    return this.comparison(token.text);
  }

  private call(name: string): Leaf {
    this.expectPunct('(');
    const args: ({ kind: 'property'; name: string } | Literal)[] = [];
    if (this.isPunct(this.peek(), ')')) {
      this.at++;
      return { kind: 'call', name, args };
    }
    for (;;) {
      const token = this.peek();
      if (token?.kind === 'ident' && !this.isPunct(this.tokens[this.at + 1], '(')) {
        this.at++;
        args.push({ kind: 'property', name: token.text });
      } else {
        args.push(this.literal(`argument ${args.length + 1} of ${name}()`));
      }
      const sep = this.next();
      if (this.isPunct(sep, ')')) return { kind: 'call', name, args };
      if (!this.isPunct(sep, ','))
        throw new FilterError(`expected ',' or ')' in ${name}(), got ${describeToken(sep)}`);
    }
  }

  private comparison(property: string): Leaf {
    const opToken = this.next();
    if (this.isKeyword(opToken, 'in')) {
      this.expectPunct('(');
      const values = [this.literal(`the values of ${property} in (…)`)];
      while (this.isPunct(this.peek(), ',')) {
        this.at++;
        values.push(this.literal(`the values of ${property} in (…)`));
      }
      this.expectPunct(')');
      return { kind: 'in', property, values };
    }
    const op = COMPARE_OPS.find((candidate) => this.isKeyword(opToken, candidate));
    if (op === undefined) {
      throw new FilterError(
        `expected a comparison operator (eq, ge, le…) after '${property}', got ${describeToken(opToken)}`,
      );
    }
    return { kind: 'compare', property, op, value: this.literal(`the right side of '${property} ${op}'`) };
  }

  private literal(where: string): Literal {
    const token = this.next();
    switch (token?.kind) {
      case 'string':
        return { kind: 'string', value: token.value };
      case 'typed':
        return { kind: 'typed', type: token.type, value: token.value };
      case 'bare':
        return { kind: 'bare', text: token.text };
      case 'ident':
        // `null`, `true`, an enum member written without quotes…: the interpreter says what it expected.
        return { kind: 'bare', text: token.text };
      case 'punct':
      case undefined:
        throw new FilterError(`expected a value for ${where}, got ${describeToken(token)}`);
    }
  }
}

function parseFilter(text: string, caseSensitive: boolean): Expr {
  return new Parser(tokenize(text), caseSensitive).parse();
}

function literalText(literal: Literal): string {
  switch (literal.kind) {
    case 'string':
      return `'${literal.value.replaceAll("'", "''")}'`;
    case 'typed':
      return `${literal.type}'${literal.value.replaceAll("'", "''")}'`;
    case 'bare':
      return literal.text;
  }
}

// ---------------------------------------------------------------------------------------------
// Dates

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?(Z|[+-]\d{2}:\d{2})?$/i;

// Date.UTC maps years 0–99 to 1900–1999; shifting by one 400-year Gregorian cycle avoids that.
const GREGORIAN_CYCLE_MS = 146_097 * DAY_MS;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * An ISO 8601 instant as ms since the epoch. Fractions finer than a millisecond are truncated:
 * windows are whole milliseconds, and truncating keeps an `le …T23:59:59.9999999Z` bound inclusive of its
 * last millisecond. Without a zone the time is UTC (OData v2 `datetime`); `zoneRequired` rejects
 * that for OData v4 `DateTimeOffset`. Undefined when the text names no real instant.
 */
function parseInstant(text: string, zoneRequired: boolean): number | undefined {
  const m = ISO_INSTANT.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? '0');
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (zone === undefined && zoneRequired) return undefined;
  let offsetMs = 0;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMinutes = Number(zone.slice(4, 6));
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offsetMs = (zone.startsWith('-') ? -1 : 1) * (offsetHours * HOUR_MS + offsetMinutes * 60_000);
  }
  const ms = Number((fraction ?? '').padEnd(3, '0').slice(0, 3));
  const shift = year < 100 ? 400 : 0;
  const local =
    Date.UTC(year + shift, month - 1, day, hour, minute, second, ms) - (shift ? GREGORIAN_CYCLE_MS : 0);
  return local - offsetMs;
}

// ---------------------------------------------------------------------------------------------
// Graph: messageTraces list

const GRAPH_ENTITY = 'microsoft.graph.exchangeMessageTrace';
const GRAPH_STATUS_ENUM = 'microsoft.graph.exchangeMessageTraceStatus';
/** exchangeMessageTraceStatus members (CSDL Aug 2026) and the doc-only `recalled`, lower-cased. */
const GRAPH_STATUS_VALUES = new Set([
  'gettingstatus',
  'pending',
  'failed',
  'delivered',
  'expanded',
  'quarantined',
  'filteredasspam',
  'unknownfuturevalue',
  'recalled',
]);

const GRAPH_EQ_PROPERTIES: readonly (keyof GraphEqFilters)[] = [
  'id',
  'messageId',
  'senderAddress',
  'recipientAddress',
  'status',
  'fromIP',
  'toIP',
  'subject',
];
type GraphProperty = keyof GraphEqFilters | 'receivedDateTime' | 'size';
const GRAPH_PROPERTIES = new Map<string, GraphProperty>(
  [...GRAPH_EQ_PROPERTIES, 'receivedDateTime' as const, 'size' as const].map((p) => [p.toLowerCase(), p]),
);
const SUBJECT_FUNCTIONS = new Map<string, SubjectFunction>([
  ['contains', 'contains'],
  ['startswith', 'startsWith'],
  ['endswith', 'endsWith'],
]);

/** A filter's slots: each property once, the two time bounds, and the subject function. */
interface GraphFilterParts {
  from?: number;
  to?: number;
  eq: GraphEqFilters;
  subject?: { op: SubjectFunction; value: string };
}

function interpretGraphFilter(expr: Expr, mode: GraphFilterMode): GraphFilterParts {
  const strict = mode === 'strict';
  const parts: GraphFilterParts = { eq: {} };
  const seen = new Set<string>();

  // Microsoft keeps the last value of a repeated property (§3.4); strict mode refuses to guess.
  const claim = (slot: string, clause: string): void => {
    if (strict && seen.has(slot)) {
      throw new FilterError(
        `${clause} is filtered more than once; Microsoft keeps only the last value of each property (strict mode)`,
      );
    }
    seen.add(slot);
  };
  const observedOnly = (what: string): void => {
    if (strict) {
      throw new FilterError(
        `${what} is not supported; Microsoft accepts it but keeps only the last value of each property and ANDs everything (strict mode)`,
      );
    }
  };

  const property = (name: string): GraphProperty => {
    const found = GRAPH_PROPERTIES.get(name.toLowerCase());
    if (found === undefined) {
      throw new FilterError(`Could not find a property named '${name}' on type '${GRAPH_ENTITY}'`);
    }
    return found;
  };

  const stringValue = (prop: keyof GraphEqFilters, literal: Literal): string => {
    if (literal.kind === 'string') return literal.value;
    if (
      literal.kind === 'typed' &&
      prop === 'status' &&
      literal.type.toLowerCase() === GRAPH_STATUS_ENUM.toLowerCase()
    ) {
      return literal.value;
    }
    throw new FilterError(
      `${prop} takes a quoted string, as in ${prop} eq 'value', not ${literalText(literal)}`,
    );
  };

  const instant = (literal: Literal): number => {
    const text =
      literal.kind === 'bare' ? literal.text : literal.kind === 'string' ? literal.value : undefined;
    const value = text === undefined ? undefined : parseInstant(text, true);
    if (value === undefined) {
      throw new FilterError(
        `${literalText(literal)} is not a valid DateTimeOffset; use a UTC literal such as 2026-01-20T00:00:00Z (a '+' offset must be sent as %2B)`,
      );
    }
    return value;
  };

  const setEq = (prop: keyof GraphEqFilters, literal: Literal): void => {
    const value = stringValue(prop, literal);
    if (strict && prop === 'status' && !GRAPH_STATUS_VALUES.has(value.toLowerCase())) {
      throw new FilterError(`'${value}' is not a member of ${GRAPH_STATUS_ENUM}`);
    }
    claim(prop, prop);
    parts.eq[prop] = value;
  };

  const leaf = (node: Leaf): void => {
    switch (node.kind) {
      case 'compare': {
        const prop = property(node.property);
        if (prop === 'size') throw new FilterError(`filtering on 'size' is not supported`);
        if (prop === 'receivedDateTime') {
          if (node.op !== 'ge' && node.op !== 'le') {
            throw new FilterError(
              `receivedDateTime takes only 'ge' and 'le' (inclusive bounds), not '${node.op}'`,
            );
          }
          claim(node.op, `receivedDateTime ${node.op}`);
          if (node.op === 'ge') parts.from = instant(node.value);
          else parts.to = instant(node.value);
          return;
        }
        if (node.op === 'ne') observedOnly(`'${prop} ne'`);
        else if (node.op !== 'eq') throw new FilterError(`${prop} takes only 'eq', not '${node.op}'`);
        setEq(prop, node.value);
        return;
      }
      case 'in': {
        const prop = property(node.property);
        if (prop === 'receivedDateTime' || prop === 'size') {
          throw new FilterError(`'in' is not supported on ${prop}`);
        }
        observedOnly(`'${prop} in (…)'`);
        // Every value must still be well-formed; only the last one counts.
        for (const value of node.values) setEq(prop, value);
        return;
      }
      case 'call': {
        const op = SUBJECT_FUNCTIONS.get(node.name.toLowerCase());
        if (op === undefined) throw new FilterError(`the function '${node.name}' is not supported`);
        const [target, needle, ...extra] = node.args;
        if (target?.kind !== 'property' || needle === undefined || extra.length > 0) {
          throw new FilterError(`${op} takes a property and a quoted string, as in ${op}(subject,'text')`);
        }
        const prop = property(target.name);
        if (needle.kind !== 'string') {
          throw new FilterError(
            `${op} takes a quoted string, as in ${op}(${prop},'text'), not ${needle.kind === 'property' ? needle.name : literalText(needle)}`,
          );
        }
        if (prop === 'senderAddress' || prop === 'recipientAddress') {
          // Observed: the service ignores these and returns every row (§3.4).
          observedOnly(`${op}() on ${prop}`);
          return;
        }
        if (prop !== 'subject') throw new FilterError(`${op}() is supported on subject only, not on ${prop}`);
        claim('subject()', `${op}(subject)`);
        parts.subject = { op, value: needle.value };
        return;
      }
    }
  };

  // Depth-first, left to right: the textual order that "the last value wins" refers to.
  const walk = (node: Expr): void => {
    switch (node.kind) {
      case 'and':
        node.operands.forEach(walk);
        return;
      case 'or':
        observedOnly(`'or'`);
        node.operands.forEach(walk);
        return;
      case 'not':
        observedOnly(`'not'`);
        walk(node.operand);
        return;
      case 'compare':
      case 'in':
      case 'call':
        leaf(node);
        return;
    }
  };

  walk(expr);
  return parts;
}

type GraphOption = 'filter' | 'top' | 'skiptoken' | 'select' | 'orderby' | 'count';
/** The documented spellings; strict mode accepts only these (beta spells `$skipToken`). */
const GRAPH_OPTION_SPELLINGS = new Map<string, GraphOption>([
  ['$filter', 'filter'],
  ['$top', 'top'],
  ['$skiptoken', 'skiptoken'],
  ['$skipToken', 'skiptoken'],
  ['$select', 'select'],
  ['$orderby', 'orderby'],
  ['$count', 'count'],
]);
const GRAPH_OPTIONS_ANY_CASE = new Map<string, GraphOption>(
  [...GRAPH_OPTION_SPELLINGS].map(([spelling, option]) => [spelling.toLowerCase(), option]),
);

function graphError(message: string): { ok: false; code: string; message: string } {
  return { ok: false, code: 'BadRequest', message };
}

/**
 * Parses and validates the query of `GET /{v1.0|beta}/admin/exchange/tracing/messageTraces`.
 * Without a time filter the window is the last 48 hours, [now − 48 h, now].
 */
export function parseGraphListQuery(
  params: URLSearchParams,
  now: number,
  mode: GraphFilterMode,
): GraphQueryResult {
  const strict = mode === 'strict';
  const values = new Map<GraphOption, string>();
  for (const [key, value] of params) {
    // Graph ignores parameters without '$' (custom query parameters).
    if (!key.startsWith('$')) continue;
    const option = strict ? GRAPH_OPTION_SPELLINGS.get(key) : GRAPH_OPTIONS_ANY_CASE.get(key.toLowerCase());
    if (option === undefined) {
      if (strict) return graphError(`The query option '${key}' is not supported by this API (strict mode).`);
      continue;
    }
    // OData refuses a repeated system query option whatever the mode; so do we.
    if (values.has(option)) return graphError(`The query option '$${option}' was specified more than once.`);
    values.set(option, value);
  }

  for (const ignored of ['select', 'orderby', 'count'] as const) {
    if (strict && values.has(ignored)) {
      return graphError(
        `The query option '$${ignored}' is not supported by this API; Microsoft silently ignores it (strict mode).`,
      );
    }
  }

  let top = GRAPH_DEFAULT_TOP;
  const topText = values.get('top');
  if (topText !== undefined) {
    top = /^[0-9]{1,9}$/.test(topText) ? Number(topText) : NaN;
    if (!(top >= 1 && top <= GRAPH_MAX_TOP)) {
      return graphError(
        `Invalid value '${clip(topText)}' for $top: it must be an integer between 1 and ${GRAPH_MAX_TOP}.`,
      );
    }
  }

  const skipToken = values.get('skiptoken');
  if (skipToken?.length === 0) return graphError('The $skiptoken is empty.');

  let parts: GraphFilterParts = { eq: {} };
  const filter = values.get('filter') ?? '';
  if (filter.trim().length > 0) {
    try {
      parts = interpretGraphFilter(parseFilter(filter, false), mode);
    } catch (error) {
      if (error instanceof FilterError) return graphError(`Invalid filter clause: ${error.message}.`);
      throw error;
    }
  }

  const window = graphWindow(parts, now);
  if (!window.ok) return window;

  const query: GraphListQuery = { from: window.from, to: window.to, top, eq: parts.eq };
  if (skipToken !== undefined) query.skipToken = skipToken;
  if (parts.subject !== undefined) query.subject = parts.subject;
  return { ok: true, query };
}

function graphWindow(
  parts: GraphFilterParts,
  now: number,
): { ok: true; from: number; to: number } | { ok: false; code: string; message: string } {
  const { from, to } = parts;
  if (from === undefined && to === undefined)
    return { ok: true, from: now - GRAPH_DEFAULT_WINDOW_MS, to: now };
  if (from === undefined || to === undefined) {
    return graphError(
      'Both receivedDateTime bounds are required: receivedDateTime ge {start} and receivedDateTime le {end}.',
    );
  }
  if (from > to) return graphError('The start of the receivedDateTime range is after its end.');
  if (from < now - GRAPH_HISTORY_MS) {
    return graphError('The start of the receivedDateTime range can not be older than 90 days.');
  }
  if (to > now)
    return graphError('The end of the receivedDateTime range can not be later than the current time.');
  if (to - from > GRAPH_MAX_WINDOW_MS) {
    return graphError('The receivedDateTime range can not be longer than 10 days.');
  }
  return { ok: true, from, to };
}

// ---------------------------------------------------------------------------------------------
// Graph: row matching

function fold(text: string): string {
  return text.toLowerCase();
}

function sameText(actual: string | null, wanted: string): boolean {
  return fold(actual ?? '') === fold(wanted);
}

/**
 * `senderAddress eq '*@contoso.com'` matches every sender of that domain (§3.4). Any other `*`
 * is compared literally, which in practice matches nothing, as observed.
 */
function senderMatches(sender: string | null, wanted: string): boolean {
  const domain = /^\*@([^*@]+)$/.exec(wanted)?.[1];
  if (domain === undefined) return sameText(sender, wanted);
  if (sender === null) return false;
  const at = sender.lastIndexOf('@');
  return at >= 0 && fold(sender.slice(at + 1)) === fold(domain);
}

/**
 * Whether a row passes the query's property filters (the time window is the data source's job).
 * Addresses, subject, status, ids and IPs compare case-insensitively; the Message-ID exactly,
 * since its local part is case-sensitive (RFC 5322) and Microsoft asks for the full string.
 * A null sender, subject or toIP compares as '' (Graph renders them blank).
 */
export function matchesGraphFilter(
  row: GraphFilterRow,
  query: Pick<GraphListQuery, 'eq' | 'subject'>,
): boolean {
  const { eq, subject } = query;
  if (eq.id !== undefined && !sameText(row.traceId, eq.id)) return false;
  if (eq.messageId !== undefined && (row.messageId ?? '') !== eq.messageId) return false;
  if (eq.senderAddress !== undefined && !senderMatches(row.sender, eq.senderAddress)) return false;
  if (eq.recipientAddress !== undefined && !sameText(row.recipient, eq.recipientAddress)) return false;
  if (eq.status !== undefined && !sameText(row.status, eq.status)) return false;
  if (eq.fromIP !== undefined && !sameText(row.fromIp, eq.fromIP)) return false;
  if (eq.toIP !== undefined && !sameText(row.toIp, eq.toIP)) return false;
  if (eq.subject !== undefined && !sameText(row.subject, eq.subject)) return false;
  if (subject !== undefined) {
    const haystack = fold(row.subject ?? '');
    const needle = fold(subject.value);
    switch (subject.op) {
      case 'contains':
        return haystack.includes(needle);
      case 'startsWith':
        return haystack.startsWith(needle);
      case 'endsWith':
        return haystack.endsWith(needle);
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Graph: getDetailsByRecipient(recipientAddress='…')

// The function call around the parameter is optional: a router may have matched it already.
const RECIPIENT_SEGMENT = /^(?:(?:microsoft\.graph\.)?getDetailsByRecipient\((.*)\)|(.*))$/is;
const RECIPIENT_PARAMETER = /^\s*recipientAddress\s*=\s*(.*?)\s*$/is;

/**
 * The address in `getDetailsByRecipient(recipientAddress='o''neil@contoso.com')`, or in its
 * parameter list alone (`recipientAddress='…'`), whether still percent-encoded or not. The
 * function name may carry its namespace, as OData allows for bound functions.
 */
export function parseRecipientLiteral(pathSegment: string): RecipientLiteralResult {
  let segment = pathSegment;
  // Decoding an already decoded segment is harmless unless it holds a '%' followed by two hex
  // digits, which no real address does; a lone '%' makes decoding fail and the text is kept.
  try {
    segment = decodeURIComponent(pathSegment);
  } catch {
    // Keep the raw text.
  }
  const call = RECIPIENT_SEGMENT.exec(segment);
  const argument = RECIPIENT_PARAMETER.exec(call?.[1] ?? call?.[2] ?? '')?.[1];
  if (argument === undefined) {
    return graphError(
      `Expected getDetailsByRecipient(recipientAddress='{address}'), got '${clip(pathSegment)}'.`,
    );
  }
  if (!argument.startsWith("'")) {
    return graphError(
      `The recipientAddress parameter must be a quoted string literal, got '${clip(argument)}'.`,
    );
  }
  let address: string;
  try {
    const { value, end } = readQuoted(argument, 0);
    if (end !== argument.length) {
      return graphError(
        `The recipientAddress literal '${clip(argument)}' has text after its closing quote; a quote inside it is written ''.`,
      );
    }
    address = value;
  } catch (error) {
    if (error instanceof FilterError) return graphError(`The recipientAddress literal is not terminated.`);
    throw error;
  }
  if (address.length === 0) return graphError('The recipientAddress parameter is empty.');
  return { ok: true, address };
}

// ---------------------------------------------------------------------------------------------
// Reporting Web Service: MessageTrace / MessageTraceDetail

type ReportingProperty = 'StartDate' | 'EndDate' | keyof ReportingEqFilters;
function isReportingProperty(name: string): name is ReportingProperty {
  return REPORTING_PROPERTIES.has(name);
}
/** WCF Data Services matches property names case-sensitively, so the spellings here are exact. */
const REPORTING_PROPERTIES = new Set<string>([
  'StartDate',
  'EndDate',
  'SenderAddress',
  'RecipientAddress',
  'MessageTraceId',
  'Status',
  'MessageId',
  'FromIP',
  'ToIP',
] satisfies ReportingProperty[]);
/** Fields of the report the service could filter on but the emulator does not. */
const REPORTING_UNSUPPORTED = new Set([
  'Organization',
  'Received',
  'Subject',
  'Size',
  'Index',
  'Action',
  'Event',
]);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ReportingFilterParts {
  start?: number;
  end?: number;
  eq: ReportingEqFilters;
}

function interpretReportingFilter(expr: Expr): ReportingFilterParts {
  const parts: ReportingFilterParts = { eq: {} };
  const seen = new Set<string>();

  const leaf = (node: Expr): void => {
    switch (node.kind) {
      case 'and':
        node.operands.forEach(leaf);
        return;
      case 'or':
      case 'not':
        throw new FilterError(
          `'${node.kind}' is not supported; the report takes 'eq' clauses joined by 'and'`,
        );
      case 'in':
        throw new FilterError(`'in' is not supported; the report takes 'eq' clauses joined by 'and'`);
      case 'call':
        throw new FilterError(`the function '${node.name}' is not supported`);
      case 'compare':
        break;
    }
    const name = node.property;
    if (!isReportingProperty(name)) {
      if (REPORTING_UNSUPPORTED.has(name)) throw new FilterError(`filtering on '${name}' is not supported`);
      throw new FilterError(`No property '${name}' exists in type 'TenantReporting.MessageTrace'`);
    }
    if (node.op !== 'eq') throw new FilterError(`${name} takes only 'eq', not '${node.op}'`);
    if (seen.has(name)) throw new FilterError(`${name} appears more than once`);
    seen.add(name);
    const literal = node.value;
    switch (name) {
      case 'StartDate':
      case 'EndDate': {
        const value =
          literal.kind === 'typed' && literal.type.toLowerCase() === 'datetime'
            ? parseInstant(literal.value, false)
            : undefined;
        if (value === undefined) {
          throw new FilterError(
            `${name} takes a datetime literal such as datetime'2024-05-30T13:08:54Z', not ${literalText(literal)}`,
          );
        }
        if (name === 'StartDate') parts.start = value;
        else parts.end = value;
        return;
      }
      case 'MessageTraceId':
        if (literal.kind !== 'typed' || literal.type.toLowerCase() !== 'guid' || !GUID.test(literal.value)) {
          throw new FilterError(
            `${name} takes a guid literal such as guid'579cd25c-9b30-4ce4-d5eb-08da70ab3b38', not ${literalText(literal)}`,
          );
        }
        parts.eq.MessageTraceId = literal.value;
        return;
      case 'SenderAddress':
      case 'RecipientAddress':
      case 'Status':
      case 'MessageId':
      case 'FromIP':
      case 'ToIP':
        if (literal.kind !== 'string') {
          throw new FilterError(
            `${name} takes a quoted string, as in ${name} eq 'value', not ${literalText(literal)}`,
          );
        }
        parts.eq[name] = literal.value;
        return;
    }
  };

  leaf(expr);
  return parts;
}

/** The system query options the report honours; `$select` and `$orderby` are accepted and ignored. */
const REPORTING_OPTIONS = new Set(['$filter', '$top', '$skiptoken', '$format', '$select', '$orderby']);

function reportingError(message: string): { ok: false; status: 400; message: string } {
  return { ok: false, status: 400, message };
}

/**
 * Parses and validates the query of the Reporting Web Service `MessageTrace` and
 * `MessageTraceDetail` reports. StartDate must be at most `historyDays` days before `now`;
 * without StartDate/EndDate the window is the last 48 hours.
 */
export function parseReportingQuery(
  params: URLSearchParams,
  now: number,
  historyDays: number,
): ReportingQueryResult {
  const values = new Map<string, string>();
  for (const [key, value] of params) {
    if (!key.startsWith('$')) continue;
    // WCF Data Services reserves every '$' name and matches option names case-sensitively.
    if (!REPORTING_OPTIONS.has(key)) return reportingError(`The query option '${key}' is not supported.`);
    if (values.has(key)) {
      return reportingError(
        `Query parameter '${key}' is specified, but it should be specified exactly once.`,
      );
    }
    values.set(key, value);
  }

  const query: Omit<ReportingQuery, 'from' | 'to' | 'eq'> = {};
  const top = values.get('$top');
  if (top !== undefined) {
    // OData v2 allows $top=0 (an empty page); the cap keeps the number an Int32, as WCF's is.
    if (!/^[0-9]{1,10}$/.test(top) || Number(top) > 2_147_483_647) {
      return reportingError(`Invalid value '${clip(top)}' for $top: it must be a non-negative integer.`);
    }
    query.top = Number(top);
  }
  const skipToken = values.get('$skiptoken');
  if (skipToken !== undefined) {
    if (!/^[0-9]{1,15}$/.test(skipToken)) {
      return reportingError(
        `Invalid value '${clip(skipToken)}' for $skiptoken: it must be the Index of the last row returned.`,
      );
    }
    query.skipToken = Number(skipToken);
  }
  const format = values.get('$format');
  if (format !== undefined) {
    const lower = format.toLowerCase();
    // Atom is what the service answers without $format anyway.
    if (lower === 'json') query.format = 'json';
    else if (lower !== 'atom') {
      return reportingError(`Invalid value '${clip(format)}' for $format: use json or atom.`);
    }
  }

  let parts: ReportingFilterParts = { eq: {} };
  const filter = values.get('$filter') ?? '';
  if (filter.trim().length > 0) {
    try {
      parts = interpretReportingFilter(parseFilter(filter, true));
    } catch (error) {
      if (error instanceof FilterError) return reportingError(`Invalid $filter: ${error.message}.`);
      throw error;
    }
  }

  const { start, end } = parts;
  let from = now - REPORTING_DEFAULT_WINDOW_MS;
  let to = now;
  if (start !== undefined || end !== undefined) {
    if (start === undefined || end === undefined) {
      return reportingError('StartDate and EndDate must be specified together.');
    }
    if (start > end)
      return reportingError('Invalid StartDate value. The StartDate must be earlier than the EndDate.');
    if (start < now - historyDays * DAY_MS) {
      return reportingError(
        `Invalid StartDate value. The StartDate can't be older than ${historyDays} days from today.`,
      );
    }
    // Clamping would hand back a different window than asked for without saying so.
    if (end > now)
      return reportingError("Invalid EndDate value. The EndDate can't be later than the current time.");
    from = start;
    to = end;
  }
  return { ok: true, query: { from, to, ...query, eq: parts.eq } };
}

/**
 * Whether a row passes a Reporting Web Service query's property filters (the window is the data
 * source's job). Addresses, status, trace id and IPs compare case-insensitively, the Message-ID
 * exactly; a null value compares as ''.
 */
export function matchesReportingFilter(row: ReportingFilterRow, query: Pick<ReportingQuery, 'eq'>): boolean {
  const { eq } = query;
  if (eq.SenderAddress !== undefined && !sameText(row.sender, eq.SenderAddress)) return false;
  if (eq.RecipientAddress !== undefined && !sameText(row.recipient, eq.RecipientAddress)) return false;
  if (eq.MessageTraceId !== undefined && !sameText(row.traceId, eq.MessageTraceId)) return false;
  if (eq.Status !== undefined && !sameText(row.status, eq.Status)) return false;
  if (eq.MessageId !== undefined && (row.messageId ?? '') !== eq.MessageId) return false;
  if (eq.FromIP !== undefined && !sameText(row.fromIp, eq.FromIP)) return false;
  if (eq.ToIP !== undefined && !sameText(row.toIp, eq.ToIP)) return false;
  return true;
}
