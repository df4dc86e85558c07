/**
 * `exotrace setup elasticsearch` through the built binary, against a small HTTP server that
 * answers like a cluster (root document, index template API) and records what it was sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIELDS } from '../../src/normalize/fields.js';
import { runCli } from '../helpers/cli.js';
import { tenantYaml } from '../config/helpers.js';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

let dir: string;
let server: Server;
let recorded: Recorded[];
let distribution: string | undefined;
let status: number;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'exotrace-setup-'));
  recorded = [];
  distribution = undefined;
  status = 200;
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      recorded.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      });
      res.setHeader('content-type', 'application/json');
      if (status !== 200) {
        res.statusCode = status;
        res.end(
          JSON.stringify({ error: { type: 'security_exception', reason: 'unable to authenticate' }, status }),
        );
        return;
      }
      if (req.method === 'GET' && req.url === '/') {
        res.end(
          JSON.stringify({
            name: 'n1',
            version: { number: '2.17.0', ...(distribution === undefined ? {} : { distribution }) },
          }),
        );
        return;
      }
      res.end(JSON.stringify({ acknowledged: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterEach(async () => {
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  rmSync(dir, { recursive: true, force: true });
});

function config(extra = ''): string {
  const { port } = server.address() as AddressInfo;
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    file,
    `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: http://127.0.0.1:${port}\n    apiKey: s3cr3t-api-key\n${extra}`,
  );
  return file;
}

/** The mapping of a dotted field in the template's properties. */
function mappingOf(properties: Record<string, unknown>, name: string): unknown {
  let level: Record<string, unknown> | undefined = properties;
  const parts = name.split('.');
  for (const part of parts.slice(0, -1)) {
    level = (level?.[part] as { properties?: Record<string, unknown> } | undefined)?.properties;
  }
  return level?.[parts.at(-1) ?? name];
}

describe('exotrace setup elasticsearch', () => {
  it('installs a data stream template mapping every field we emit with its ECS type', async () => {
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('index template logs-office365.message_trace');
    const put = recorded.find((r) => r.method === 'PUT');
    expect(put?.url).toBe('/_index_template/logs-office365.message_trace');
    expect(put?.authorization).toBe('ApiKey s3cr3t-api-key');
    const template = JSON.parse(put?.body ?? '{}') as {
      index_patterns: string[];
      data_stream: object;
      priority: number;
      template: { mappings: { properties: Record<string, unknown> } };
    };
    expect(template.index_patterns).toEqual(['logs-office365.message_trace-*']);
    expect(template.data_stream).toEqual({});
    expect(template.priority).toBeGreaterThan(100);
    for (const field of FIELDS) {
      expect(mappingOf(template.template.mappings.properties, field.name), field.name).toEqual({
        type: field.type,
      });
    }
  });

  it('an API key given as id:key is sent encoded, as the output sends it', async () => {
    const { port } = server.address() as AddressInfo;
    const file = path.join(dir, 'idkey.yaml');
    writeFileSync(
      file,
      `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: http://127.0.0.1:${port}\n    apiKey: "myid:mykey"\n`,
    );
    const result = await runCli(['setup', 'elasticsearch', '--config', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(recorded[0]?.authorization).toBe(`ApiKey ${Buffer.from('myid:mykey').toString('base64')}`);
  });

  it('on OpenSearch, types it lacks become their nearest equivalents', async () => {
    distribution = 'opensearch';
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code, result.stderr).toBe(0);
    const body = recorded.find((r) => r.method === 'PUT')?.body ?? '';
    expect(body).not.toContain('"wildcard"');
    expect(body).not.toContain('"match_only_text"');
    expect(result.stdout).toContain('(opensearch)');
  });

  it('a refused key: exit 3, the setting to check named, the key never printed', async () => {
    status = 401;
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/answered 401 \(check outputs 'elasticsearch' apiKey/);
    expect(result.stderr + result.stdout).not.toContain('s3cr3t-api-key');
  });

  it('no elasticsearch output is a usage error', async () => {
    const file = path.join(dir, 'plain.yaml');
    writeFileSync(file, `${tenantYaml()}\noutputs:\n  - type: stdout\n`);
    const result = await runCli(['setup', 'elasticsearch', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no elasticsearch output');
  });
});
