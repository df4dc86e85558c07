// Writes docs/metrics.md from the metrics registry (src/observe/metrics.ts).
import { writeFileSync } from 'node:fs';
import { renderMetricsDoc } from '../src/observe/metrics.js';

const target = new URL('../docs/metrics.md', import.meta.url);
writeFileSync(target, renderMetricsDoc());
process.stdout.write(`wrote ${target.pathname}\n`);
