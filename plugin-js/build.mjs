// One build, one budget: bundle src/attribution.js (with the shared classification data) into
// dist/attribution.js, print raw and gzipped sizes, and fail when the gzipped size exceeds the budget.
// Usage: node build.mjs [outdir]   (default: dist)
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 3072; // bytes, gzipped
const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(process.argv[2] || join(here, 'dist'), 'attribution.js');

await build({
  entryPoints: [join(here, 'src/attribution.js')],
  outfile,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome111', 'edge111', 'firefox111', 'safari16.4'],
  legalComments: 'inline',
  charset: 'utf8',
  logLevel: 'warning',
});

const code = readFileSync(outfile);
const gz = gzipSync(code, { level: 9 }).length;
console.log(`${outfile}: ${code.length} bytes raw, ${gz} bytes gzipped (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`over budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
