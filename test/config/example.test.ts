/**
 * examples/exotrace.yaml, the configuration README points new users to, loaded through the real
 * loader as it is (only its certificate files made up, and the variables it names set), so that it
 * never drifts from the schema.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { createCertificate } from '../../src/emulator/tls.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { tempDir } from './helpers.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples/exotrace.yaml');

/** The example copied into a fresh folder with the certificate files it names. */
function exampleFolder(): string {
  const dir = tempDir();
  copyFileSync(EXAMPLE, path.join(dir, 'exotrace.yaml'));
  const { certPem, keyPem } = createCertificate({ subject: 'exotrace contoso' });
  writeFileSync(path.join(dir, 'contoso.pem'), certPem);
  writeFileSync(path.join(dir, 'contoso.key'), keyPem);
  return dir;
}

describe('examples/exotrace.yaml', () => {
  it('loads through the real loader: a certificate tenant, a secret from ${VAR}, a file output', () => {
    const dir = exampleFolder();
    const config = loadConfig(path.join(dir, 'exotrace.yaml'), {
      FABRIKAM_CLIENT_SECRET: 'from-the-environment',
    });
    expect(config.stateDir).toBe(path.join(dir, 'exotrace-state'));
    expect(config.tenants.map((t) => [t.name, t.credential.kind])).toEqual([
      ['contoso', 'certificate'],
      ['fabrikam', 'secret'],
    ]);
    expect(config.tenants[1]?.credential).toEqual({ kind: 'secret', clientSecret: 'from-the-environment' });
    expect(config.outputs).toEqual([
      expect.objectContaining({ type: 'file', name: 'file', path: path.join(dir, 'events.ndjson') }),
    ]);
  });

  it('names the variable it needs when it is not set', () => {
    const dir = exampleFolder();
    let error: unknown;
    try {
      loadConfig(path.join(dir, 'exotrace.yaml'), {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      expect.objectContaining({
        path: 'tenants[1].clientSecret',
        message: 'environment variable FABRIKAM_CLIENT_SECRET is not set: export it, or remove the reference',
      }),
    ]);
  });

  it('points to the configuration reference', () => {
    expect(readFileSync(EXAMPLE, 'utf8')).toContain('docs/configuration.md');
  });
});
