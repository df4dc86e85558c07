/**
 * One list of secret names (core/secret-keys.ts) for every redaction. Each name of it, in each of
 * its spellings, is redacted everywhere: as a log field, in an error's text, and in a printed
 * configuration. So a name added to the list is covered by all three at once.
 */
import { describe, expect, it } from 'vitest';

import type { Config } from '../../src/config/load.js';
import { redactConfig } from '../../src/config/redact.js';
import { ExotraceError } from '../../src/core/errors.js';
import { SECRET_KEY_WORDS, secretKeySpellings } from '../../src/core/secret-keys.js';
import { createLogger } from '../../src/observe/log.js';

const VALUE = 'Zq8vLongEnoughToBeAValue42';

function logged(fields: Record<string, unknown>): string {
  let text = '';
  const stream = {
    isTTY: false,
    write(chunk: string) {
      text += chunk;
      return true;
    },
  };
  createLogger(stream, {}).info('something happened', fields);
  return text;
}

describe('the one list of secret names', () => {
  const spellings = secretKeySpellings();

  it('has every name in camelCase, snake_case and kebab-case', () => {
    expect(spellings).toContain('clientSecret');
    expect(spellings).toContain('client_secret');
    expect(spellings).toContain('proxy-authorization');
    expect(spellings.length).toBeGreaterThanOrEqual(SECRET_KEY_WORDS.length * 2);
  });

  it.each(spellings)('%s is censored as a log field, nested too', (key) => {
    const text = logged({ [key]: VALUE, nested: { [key]: VALUE } });
    expect(text).not.toContain(VALUE);
  });

  it.each(spellings)('%s is redacted in an error’s text (name=value and JSON)', (key) => {
    const error = new ExotraceError({
      code: 'http_error',
      message: `the server said ${key}=${VALUE} and {"${key}": "${VALUE}"}`,
    });
    expect(error.message).not.toContain(VALUE);
  });

  it.each(spellings)('%s is redacted where a configuration is printed', (key) => {
    const config = { outputs: [{ type: 'http', name: 'o', [key]: VALUE }] } as unknown as Config;
    expect(JSON.stringify(redactConfig(config))).not.toContain(VALUE);
  });

  it('keeps an Authorization scheme readable, and redacting twice changes nothing', () => {
    const once = new ExotraceError({ code: 'http_error', message: `sent Authorization: Splunk ${VALUE}` });
    expect(once.message).toBe('sent Authorization: Splunk REDACTED');
    const twice = new ExotraceError({ code: 'http_error', message: once.message });
    expect(twice.message).toBe(once.message);
  });
});
