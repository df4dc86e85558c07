// Writes docs/fields.md from the code's field table (src/normalize/fields.ts).
import { writeFileSync } from 'node:fs';
import { ECS_VERSION, renderFieldsDoc } from '../src/normalize/index.js';

const target = new URL('../docs/fields.md', import.meta.url);
writeFileSync(target, renderFieldsDoc(ECS_VERSION));
process.stdout.write(`wrote ${target.pathname}\n`);
