/**
 * Microsoft Graph message trace, v1.0 and beta:
 *   GET /{v1.0|beta}/admin/exchange/tracing/messageTraces
 *   GET /{v1.0|beta}/admin/exchange/tracing/messageTraces/{id}/getDetailsByRecipient(recipientAddress='…')
 * Validation, ordering, paging and errors as microsoft-api.md §3 and §8 describe them.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { admit, sendFaultOf, type ApiContext, type Refusals } from './api.js';
import { matchesGraphFilter, parseGraphListQuery, parseRecipientLiteral } from './filters.js';
import { sendJson, sendJsonWith, type EmulatorRequest, type Handler } from './http.js';
import { statusAt, type TraceRow } from './model.js';
import { decodeSkipToken, encodeSkipToken, queryFingerprint } from './paging.js';
import { graphStatus, renderGraphDetail, renderGraphRow, type GraphFlavor } from './render.js';

/** The app whose service principal a tenant must hold (New-MgServicePrincipal -AppId …). */
export const TRANSPORT_APP_ID = '8bd644d1-64a1-4d4b-ae52-2e0cbf64e373';
export const GRAPH_ROLE = 'ExchangeMessageTrace.Read.All';

const SERVICE_PRINCIPAL_MESSAGE =
  `Service principal-less Authentication failed: the service principal for App ID ${TRANSPORT_APP_ID} ` +
  'was not found. Please create a service principal for this app in your tenant. Provisioning may take ' +
  'several hours to complete.';

const LIST_PATH = /^\/(v1\.0|beta)\/admin\/exchange\/tracing\/messageTraces\/?$/i;
const DETAILS_PATH =
  /^\/(v1\.0|beta)\/admin\/exchange\/tracing\/messageTraces\/([^/]+)\/getDetailsByRecipient\((.*)\)$/i;

function graphError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const requestId = randomUUID();
  sendJson(
    res,
    status,
    {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().slice(0, 19),
          'request-id': requestId,
          'client-request-id': requestId,
        },
      },
    },
    { 'request-id': requestId, ...headers },
  );
}

const refusals: Refusals = {
  unauthenticated(res, check) {
    graphError(res, 401, 'InvalidAuthenticationToken', check.message, {
      'www-authenticate':
        'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
    });
  },
  forbidden(res, tenant, roles) {
    if (!tenant.servicePrincipal) {
      graphError(res, 401, 'Unauthorized', SERVICE_PRINCIPAL_MESSAGE);
      return true;
    }
    if (!roles.includes(GRAPH_ROLE)) {
      graphError(
        res,
        403,
        'Forbidden',
        `Missing role permissions on the request. API requires one of '${GRAPH_ROLE}'.`,
      );
      return true;
    }
    return false;
  },
  throttled(res, retryAfter) {
    graphError(
      res,
      429,
      'TooManyRequests',
      'Your recent queries have surpassed the permitted limit. Please retry again later.',
      {
        'retry-after': retryAfter,
      },
    );
  },
  failed(res, status) {
    graphError(
      res,
      status,
      status === 503 ? 'ServiceUnavailable' : 'InternalServerError',
      'The service is temporarily unavailable.',
    );
  },
  echoToken(res, token) {
    graphError(res, 400, 'BadRequest', `The access token ${token} is not valid for this request.`);
  },
};

export function createGraphApi(ctx: ApiContext): Handler {
  return async (req, res) => {
    if (req.method !== 'GET') return false;
    const list = LIST_PATH.exec(req.url.pathname);
    if (list) {
      await listMessageTraces(ctx, req, res, list[1]?.toLowerCase() === 'beta' ? 'beta' : 'v1.0');
      return true;
    }
    const details = DETAILS_PATH.exec(req.url.pathname);
    if (details) {
      await detailsByRecipient(
        ctx,
        req,
        res,
        details[1]?.toLowerCase() === 'beta' ? 'beta' : 'v1.0',
        details[2] ?? '',
        details[3] ?? '',
      );
      return true;
    }
    return false;
  };
}

async function listMessageTraces(
  ctx: ApiContext,
  req: EmulatorRequest,
  res: ServerResponse,
  flavor: GraphFlavor,
): Promise<void> {
  const admission = admit(ctx, req, res, 'graph', 'graph-list', refusals);
  if (!admission.ok) return;
  const { tenant, now, fault } = admission;
  const parsed = parseGraphListQuery(req.url.searchParams, now, ctx.options.graphMode);
  if (!parsed.ok) {
    graphError(res, 400, parsed.code, parsed.message);
    return;
  }
  const query = parsed.query;
  const fingerprint = queryFingerprint([flavor, query.from, query.to, query.eq, query.subject ?? null]);
  let after: Parameters<typeof encodeSkipToken>[0] | undefined;
  // A stuck link (the `stuck-next-link` or `empty-next-link` fault, or a link it issued): the next
  // link names this request's own position again, in a token that differs every time; an empty
  // one serves no rows.
  let empty = fault?.kind === 'empty-next-link';
  let stuck: number | undefined = fault?.kind === 'stuck-next-link' || empty ? 0 : undefined;
  if (query.skipToken !== undefined) {
    const token = decodeSkipToken(query.skipToken, fingerprint);
    if (!token.ok) {
      graphError(res, 400, 'BadRequest', 'The $skiptoken is not valid for this request.');
      return;
    }
    const expired = ctx.options.nextLinkTtlMs > 0 && now - token.issuedAt > ctx.options.nextLinkTtlMs;
    if (expired || fault?.kind === 'expire-next-link') {
      graphError(res, 400, 'BadRequest', 'The $skiptoken has expired. Run the query again.');
      return;
    }
    after = token.after;
    if (token.stuck !== undefined) stuck = token.stuck;
    if (token.empty === true) empty = true;
  }

  // A short page is legal: fewer rows than $top, and still a next link.
  const want = fault?.kind === 'short-page' ? Math.max(1, Math.floor(query.top / 3)) : query.top;
  const page: TraceRow[] = [];
  let more = false;
  const filtered = Object.keys(query.eq).length > 0 || query.subject !== undefined;
  for (const row of empty ? [] : ctx.data.rows(tenant, query.from, query.to, now, after)) {
    if (filtered) {
      const candidate = { ...row, status: graphStatus(statusAt(row, now), flavor), toIp: row.toIp ?? '' };
      if (!matchesGraphFilter(candidate, query)) continue;
    }
    if (page.length === want) {
      more = true;
      break;
    }
    page.push(row);
  }

  const rendered = page.map((row) => renderGraphRow(row, now, flavor));
  // A stuck link's every other page has its rows in reverse order: the same rows, another body.
  if (stuck !== undefined && stuck % 2 === 1) rendered.reverse();
  const first = rendered[0];
  if (fault?.kind === 'extra-row-key' && first !== undefined) rendered[0] = { ...first, value: [] };
  const body: Record<string, unknown> = {
    '@odata.context': `${req.url.origin}/${flavor}/$metadata#admin/exchange/tracing/messageTraces`,
    value: rendered,
  };
  if (fault?.kind === 'extra-page-key') body['toIP'] = '';
  if (stuck !== undefined && after !== undefined) {
    const next = new URL(req.url);
    for (const key of [...next.searchParams.keys()])
      if (key.toLowerCase() === '$skiptoken') next.searchParams.delete(key);
    next.searchParams.set('$skiptoken', encodeSkipToken(after, fingerprint, now, stuck + 1, empty));
    body['@odata.nextLink'] = next.toString();
  } else if (more) {
    // The duplicate fault points the next page a few rows back, so they come twice.
    const back = fault?.kind === 'duplicate-rows' ? Math.min(3, page.length - 1) : 0;
    const last = page[page.length - 1 - back];
    if (last !== undefined) {
      const next = new URL(req.url);
      // Replace the token whatever its spelling ($skiptoken, beta's $skipToken, …).
      for (const key of [...next.searchParams.keys()])
        if (key.toLowerCase() === '$skiptoken') next.searchParams.delete(key);
      next.searchParams.set('$skiptoken', encodeSkipToken(last, fingerprint, now));
      body['@odata.nextLink'] = next.toString();
    }
  }
  await sendJsonWith(res, 200, body, {}, sendFaultOf(fault));
}

async function detailsByRecipient(
  ctx: ApiContext,
  req: EmulatorRequest,
  res: ServerResponse,
  flavor: GraphFlavor,
  rawId: string,
  rawArgument: string,
): Promise<void> {
  const admission = admit(ctx, req, res, 'graph', 'graph-detail', refusals);
  if (!admission.ok) return;
  const { tenant, now, fault } = admission;
  const recipient = parseRecipientLiteral(rawArgument);
  if (!recipient.ok) {
    graphError(res, 400, 'BadRequest', recipient.message);
    return;
  }
  const traceId = decodeURIComponent(rawId).toLowerCase();
  const wanted = recipient.address.toLowerCase();
  const row = ctx.data
    .message(tenant, traceId)
    .find((r) => r.recipient.toLowerCase() === wanted && r.visibleAt <= now);
  if (row === undefined && ctx.options.unknownDetails === '404') {
    graphError(
      res,
      404,
      'ResourceNotFound',
      `No message trace ${traceId} for recipient ${recipient.address}.`,
    );
    return;
  }
  const steps = row === undefined ? [] : row.details.filter((step) => step.at <= now);
  const body = {
    '@odata.context': `${req.url.origin}/${flavor}/$metadata#Collection(microsoft.graph.exchangeMessageTraceDetail)`,
    value: row === undefined ? [] : steps.map((step) => renderGraphDetail(row, step)),
  };
  await sendJsonWith(res, 200, body, {}, sendFaultOf(fault));
}
