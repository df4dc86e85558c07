import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configExposure } from '../../src/config/exposure.js';
import { load, tenantYaml } from './helpers.js';

const outputs = 'outputs:\n  - type: stdout\n';

// Permission bits are what is checked, not access: root reads any file, yet this still says so.
describe.skipIf(process.platform === 'win32')('a configuration readable by every local user', () => {
  it('holding a secret written in it: a warning naming the file, its mode and the fix', () => {
    const config = load(`${tenantYaml()}\n${outputs}`);
    chmodSync(config.file, 0o644);
    const warning = configExposure(config);
    expect(warning).toBe(
      `${config.file} holds a secret and is readable by every local user (mode 644): make it readable by its owner only (chmod 600 ${config.file}), or take the secret from the environment (\${VAR})`,
    );
    expect(warning).not.toContain('s3cret');
  });

  it('readable by its owner only, or with its secrets from the environment: nothing to say', () => {
    const private_ = load(`${tenantYaml()}\n${outputs}`);
    chmodSync(private_.file, 0o640);
    expect(configExposure(private_)).toBeUndefined();
    const fromEnv = load(`${tenantYaml('clientSecret: ${SECRET}')}\n${outputs}`, { SECRET: 'from-the-env' });
    chmodSync(fromEnv.file, 0o644);
    expect(configExposure(fromEnv)).toBeUndefined();
  });
});
