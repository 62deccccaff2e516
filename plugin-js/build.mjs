// One build, one budget: bundle src/attribution.js (with the shared classification data) into
// dist/attribution.js, minify it with terser, print raw and gzipped sizes, and fail when the gzipped size
// exceeds the budget.
// Usage: node build.mjs [outdir]   (default: dist)
import { build } from 'esbuild';
import { minify } from 'terser';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 3072; // bytes, gzipped
const TARGET = ['chrome111', 'edge111', 'firefox111', 'safari16.4'];
const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(process.argv[2] || join(here, 'dist'), 'attribution.js');

// connector/data/classification.json stays the single source of truth (connector/classify.py reads it as is);
// the script gets the same data in a compact form: click rules as [param, channel, ai_source?] lists, the
// sources as one "channel ai_source host|host utm|utm;..." string that the script expands at start-up into
// classify.host_pattern's regexes, and the *_re values as regex literals.
const plain = (v) => {
  if (/[ |;]/.test(v)) throw new Error(`classification.json: ${JSON.stringify(v)} holds a separator ( |;)`);
  return v;
};
const regex = (source) => '/' + source.replace(/\//g, '\\/') + '/';
const str = JSON.stringify;
const compactData = {
  name: 'classification',
  setup(b) {
    b.onLoad({ filter: /classification\.json$/ }, ({ path }) => {
      const d = JSON.parse(readFileSync(path, 'utf8'));
      const clicks = (o) => str(Object.entries(o).map(([k, rule]) => [k, ...rule]));
      const contents = `
export const click_ids = ${clicks(d.click_ids)};
export const weak_click_ids = ${clicks(d.weak_click_ids)};
export const sources = ${str(
        d.sources
          .map((s) => [plain(s.channel), plain(s.ai_source || ''), s.hosts.map(plain).join('|'), (s.utm_sources || []).map(plain).join('|')].join(' '))
          .join(';'),
      )};
export const openai_ads_utm_sources = ${str(d.openai_ads_utm_sources)};
export const email_re = ${regex(d.email_re)};
export const paid_medium_re = ${regex(d.paid_medium_re)};
export const paid_social_medium_re = ${regex(d.paid_social_medium_re)};
export const medium_channels = [${d.medium_channels.map(([r, ch]) => `[${regex(r)},${str(ch)}]`).join(',')}];
`;
      return { contents, loader: 'js' };
    });
  },
};

const bundled = await build({
  entryPoints: [join(here, 'src/attribution.js')],
  write: false,
  bundle: true,
  format: 'iife',
  target: TARGET,
  charset: 'utf8',
  logLevel: 'warning',
  plugins: [compactData],
});
const { code: min } = await minify(bundled.outputFiles[0].text, {
  ecma: 2020,
  toplevel: true,
  compress: { passes: 3, unsafe: true, unsafe_arrows: true, unsafe_methods: true, pure_getters: true },
  format: { comments: false, preamble: '/*! connector attribution | MIT */' },
});
writeFileSync(outfile, min);

const code = readFileSync(outfile);
const gz = gzipSync(code, { level: 9 }).length;
console.log(`${outfile}: ${code.length} bytes raw, ${gz} bytes gzipped (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`over budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
