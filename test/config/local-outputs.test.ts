/**
 * `caFile` belongs to outputs that connect somewhere; on `file` and `stdout` it was accepted and
 * documented, and did nothing. It is refused there, naming the key and what it is for.
 */
import { describe, expect, it } from 'vitest';
import { load, loadError, tenantYaml } from './helpers.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('outputs[].caFile', () => {
  it.each(['file', 'stdout'])(
    'is refused on a %s output, naming the key and saying where it applies',
    (type) => {
      const extra = type === 'file' ? '\n    path: ./events.ndjson' : '';
      const error = loadError(
        `${tenantYaml()}\noutputs:\n  - type: stdout\n    name: first\n  - type: ${type}${extra}\n    caFile: ./ca.pem\n`,
        {},
        { 'ca.pem': CA },
      );
      expect(error.issues).toEqual([
        {
          path: 'outputs[1].caFile',
          message: `caFile applies to network outputs (elasticsearch, splunk-hec, sekoia, http, kafka, syslog); a ${type} output connects to nothing: remove it`,
          line: type === 'file' ? 11 : 10,
        },
      ]);
    },
  );

  it('is still taken by a network output', () => {
    const config = load(
      `${tenantYaml()}\noutputs:\n  - type: http\n    url: https://collector.example.com/in\n    caFile: ./ca.pem\n`,
      {},
      { 'ca.pem': CA },
    );
    expect(config.outputs[0]).toMatchObject({ type: 'http', caPem: CA });
  });

  it('a misspelt key on a file output is still an unknown key', () => {
    const error = loadError(
      `${tenantYaml()}\noutputs:\n  - type: file\n    path: ./e.ndjson\n    rotate: 5\n`,
    );
    expect(error.issues.map((i) => [i.path, i.message])).toEqual([
      ['outputs[0].rotate', 'unknown key: check its spelling and indentation'],
    ]);
  });
});
