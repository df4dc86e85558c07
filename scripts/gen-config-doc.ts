// Writes docs/configuration.md from the zod schema of the configuration (src/config/schema.ts).
import { writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../src/cli/config.js';

const target = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(target, renderConfigDoc());
process.stdout.write(`wrote ${target.pathname}\n`);
