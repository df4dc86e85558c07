/**
 * The legacy Office 365 Reporting Web Service:
 *   GET /ecp/reportingwebservice/reporting.svc/MessageTrace        (the path is not case-sensitive)
 *   GET /ecp/reportingwebservice/reporting.svc/MessageTraceDetail
 * `$format=json` answers verbose OData (`d.results`, `__metadata`, `/Date(ms)/`, `d.__next`);
 * `Accept: application/json` answers JSON light (`value`, zone-less `Received`, `odata.nextLink`).
 * Pages of 2000 rows numbered by `Index`; `$skiptoken` is the Index of the last row returned.
 */
import type { ServerResponse } from 'node:http';
import { admit, sendFaultOf, type ApiContext, type Refusals } from './api.js';
import { matchesReportingFilter, parseReportingQuery } from './filters.js';
import { sendJson, sendJsonWith, sendText, type EmulatorRequest, type Handler } from './http.js';
import { statusAt, type TraceRow } from './model.js';
import {
  renderReportingDetail,
  renderReportingRow,
  type ReportingDialect,
  type ReportingPage,
} from './render.js';

export const REPORTING_ROLE = 'ReportingWebService.Read.All';
const SERVICE_PATH = '/ecp/reportingwebservice/reporting.svc';
// The entity URLs in `__metadata` use Microsoft's own casing.
const ENTITY_BASE = '/ecp/ReportingWebService/Reporting.svc';

const UNAUTHORIZED_PAGE = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head>
<body><div id="header"><h1>Server Error</h1></div>
<div id="content"><fieldset><h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>
<h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3></fieldset></div>
</body></html>`;

function unauthorized(res: ServerResponse): void {
  sendText(res, 401, UNAUTHORIZED_PAGE, 'text/html', { 'www-authenticate': 'Bearer' });
}

const refusals: Refusals = {
  unauthenticated(res) {
    unauthorized(res);
  },
  forbidden(res, tenant, roles) {
    if (tenant.reportingReader && roles.includes(REPORTING_ROLE)) return false;
    sendJson(res, 403, {
      ErrorCode: '',
      Message: 'No permission to access the report for the organization .',
    });
    return true;
  },
  throttled(res, retryAfter) {
    sendJson(
      res,
      429,
      { 'odata.error': { code: '', message: { lang: 'en-US', value: 'Too many requests.' } } },
      { 'retry-after': retryAfter },
    );
  },
  failed(res, status) {
    sendText(res, status, `<html><body><h1>${status} - Service Unavailable</h1></body></html>`, 'text/html');
  },
  echoToken(res, token) {
    sendJson(res, 400, {
      'odata.error': {
        code: '',
        message: { lang: 'en-US', value: `The access token ${token} is not valid for this request.` },
      },
    });
  },
};

export function createReportingApi(ctx: ApiContext): Handler {
  return async (req, res) => {
    const path = req.url.pathname.toLowerCase();
    if (!path.startsWith(SERVICE_PATH + '/') || req.method !== 'GET') return false;
    const report = path.slice(SERVICE_PATH.length + 1).replace(/\/$/, '');
    if (report !== 'messagetrace' && report !== 'messagetracedetail') {
      sendJson(res, 404, {
        error: {
          code: '',
          message: { lang: 'en-US', value: `Resource not found for the segment '${report}'.` },
        },
      });
      return true;
    }
    // Basic authentication has been off since Exchange Online's Basic auth retirement.
    if (req.headers.authorization?.toLowerCase().startsWith('basic ') === true) {
      unauthorized(res);
      return true;
    }
    await serveReport(ctx, req, res, report === 'messagetrace' ? 'MessageTrace' : 'MessageTraceDetail');
    return true;
  };
}

function dialectOf(req: EmulatorRequest): ReportingDialect | undefined {
  const format = req.url.searchParams.get('$format')?.toLowerCase();
  if (format === 'json') return 'verbose';
  // An explicit Atom request is not turned into JSON light by an Accept header.
  if (format === 'atom') return undefined;
  if ((req.headers.accept ?? '').toLowerCase().includes('application/json')) return 'light';
  return undefined;
}

async function serveReport(
  ctx: ApiContext,
  req: EmulatorRequest,
  res: ServerResponse,
  report: 'MessageTrace' | 'MessageTraceDetail',
): Promise<void> {
  const admission = admit(ctx, req, res, 'reporting', 'reporting', refusals);
  if (!admission.ok) return;
  const { tenant, now, fault } = admission;
  const dialect = dialectOf(req);
  if (dialect === undefined) {
    // The real service falls back to Atom XML; this emulator speaks its two JSON dialects only.
    sendJson(res, 406, {
      error: {
        code: '',
        message: {
          lang: 'en-US',
          value: 'The emulator serves JSON only: add $format=json or Accept: application/json.',
        },
      },
    });
    return;
  }
  const parsed = parseReportingQuery(req.url.searchParams, now, ctx.options.reportingHistoryDays);
  if (!parsed.ok) {
    const error = { code: '', message: { lang: 'en-US', value: parsed.message } };
    sendJson(res, 400, dialect === 'verbose' ? { error } : { 'odata.error': error });
    return;
  }
  const query = parsed.query;
  if (query.skipToken !== undefined && fault?.kind === 'expire-next-link') {
    const error = { code: '', message: { lang: 'en-US', value: 'The skip token is no longer valid.' } };
    sendJson(res, 400, dialect === 'verbose' ? { error } : { 'odata.error': error });
    return;
  }
  const pageSize = ctx.options.reportingPageSize;
  const want = fault?.kind === 'short-page' ? Math.max(1, Math.floor(pageSize / 3)) : pageSize;
  // OData's $top caps the whole result (WCF Data Services pages it server-side), not each page:
  // rows from Index $top on are never served, and the last page within it has no next link.
  const limit = query.top ?? Number.POSITIVE_INFINITY;
  const skip = query.skipToken === undefined ? 0 : query.skipToken + 1;
  const page: ReportingPage = {
    tenant,
    window: { from: query.from, to: query.to },
    dialect,
    entityUrl: `${req.url.origin}${ENTITY_BASE}/${report}`,
  };

  const results: Record<string, unknown>[] = [];
  let index = 0;
  let more = false;
  const eq = query.eq;
  const matches = (row: TraceRow): boolean =>
    matchesReportingFilter(
      {
        traceId: row.traceId,
        messageId: row.messageId,
        sender: row.sender,
        recipient: row.recipient,
        status: statusAt(row, now),
        fromIp: row.fromIp,
        toIp: row.toIp,
      },
      query,
    );

  const rows =
    report === 'MessageTraceDetail' && eq.MessageTraceId !== undefined
      ? ctx.data.message(tenant, eq.MessageTraceId.toLowerCase()).filter((r) => r.visibleAt <= now)
      : ctx.data.rows(tenant, query.from, query.to, now);
  outer: for (const row of rows) {
    if (!matches(row)) continue;
    const items = report === 'MessageTrace' ? [undefined] : row.details.filter((step) => step.at <= now);
    for (const step of items) {
      if (index >= skip) {
        if (index >= limit) break outer;
        if (results.length === want) {
          more = true;
          break outer;
        }
        results.push(
          step === undefined
            ? renderReportingRow(row, now, index, page)
            : renderReportingDetail(row, step, index, page),
        );
      }
      index++;
    }
  }

  let nextLink: string | undefined;
  if (more) {
    const back = fault?.kind === 'duplicate-rows' ? Math.min(3, results.length - 1) : 0;
    const next = new URL(req.url);
    next.searchParams.set('$skiptoken', String(index - 1 - back));
    nextLink = ctx.options.relativeNextLinks
      ? `../../ReportingWebService/Reporting.svc/${report}${next.search}`
      : next.toString();
  }
  const body =
    dialect === 'verbose'
      ? { d: { results, ...(nextLink === undefined ? {} : { __next: nextLink }) } }
      : {
          'odata.metadata': `${req.url.origin}${ENTITY_BASE}/$metadata#${report}`,
          value: results,
          ...(nextLink === undefined ? {} : { 'odata.nextLink': nextLink }),
        };
  const sent = fault?.kind === 'extra-page-key' ? { ...body, ToIP: '' } : body;
  // On the wire, OData verbose JSON escapes the slashes of its dates: "\/Date(1658751973240)\/".
  const text =
    dialect === 'verbose'
      ? JSON.stringify(sent).replace(/"\/Date\((-?\d+)\)\/"/g, '"\\/Date($1)\\/"')
      : JSON.stringify(sent);
  await sendJsonWith(res, 200, text, {}, sendFaultOf(fault));
}
