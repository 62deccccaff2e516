// One build, one budget: bundle the parts src/classify.js (with the shared classification data),
// src/convert.js and src/booking.js, and src/attribution.js, into dist/; minify them with terser, print raw and
// gzipped sizes, and fail when the script every page loads, dist/attribution.js, exceeds the budget gzipped.
// Usage: node build.mjs [outdir]   (default: dist)
import { build } from 'esbuild';
import { minify } from 'terser';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 3124; // bytes, gzipped
const TARGET = ['chrome111', 'edge111', 'firefox111', 'safari16.4'];
const here = dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2] || join(here, 'dist');
const data = JSON.parse(readFileSync(join(here, '../connector/data/classification.json'), 'utf8'));

// connector/data/classification.json stays the single source of truth (connector/classify.py reads it as is);
// the script gets the same data ready to use, so that the classifier's arrival builds nothing: click rules as
// [param, channel, ai_source?] lists, each source as [host regex, channel, ai_source, utm_sources] (the regex
// is classify.host_pattern's: a host or any subdomain of one, `.*` for a country TLD), and the *_re values as
// regex literals.
const regex = (source) => '/' + source.replace(/\//g, '\\/') + '/';
const str = JSON.stringify;
const hostRegex = (hosts) =>
  regex('(^|\\.)(' + hosts.map((h) => h.replace(/\./g, '\\.').replace(/\\\.\*/g, '\\.[a-z]{2,3}(\\.[a-z]{2})?')).join('|') + ')$');
const compactData = {
  name: 'classification',
  setup(b) {
    b.onLoad({ filter: /classification\.json$/ }, ({ path }) => {
      const d = JSON.parse(readFileSync(path, 'utf8'));
      const clicks = (o) => str(Object.entries(o).map(([k, rule]) => [k, ...rule]));
      const contents = `
export const click_ids = ${clicks(d.click_ids)};
export const weak_click_ids = ${clicks(d.weak_click_ids)};
export const sources = [${d.sources
        .map((s) => `[${hostRegex(s.hosts)},${str(s.channel)},${str(s.ai_source || '')},${str(s.utm_sources || [])}]`)
        .join(',')}];
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

// esbuild bundles (and embeds the data), terser minifies; returns the minified code
const bundle = async (entry, define = {}) => {
  const bundled = await build({
    entryPoints: [join(here, 'src', entry)],
    write: false,
    bundle: true,
    format: 'iife',
    target: TARGET,
    charset: 'utf8',
    logLevel: 'warning',
    define,
    plugins: [compactData],
  });
  const { code } = await minify(bundled.outputFiles[0].text, {
    ecma: 2020,
    toplevel: false, // a classic script's top level is the page's global scope: keep esbuild's wrapper
    compress: { passes: 4, booleans_as_integers: true, unsafe: true, unsafe_arrows: true, unsafe_methods: true, pure_getters: true },
    format: { comments: false }, // no banner: every byte counts, and the license is in the repository
  });
  // V8's explicit compile hint: compile every function with the script instead of parsing each one a second
  // time on its first call (nearly all of them run while the page loads; lazy compiles were a third of the
  // start-up's main-thread time)
  return '//# allFunctionsCalledOnLoad\n' + code;
};

const report = (file, code) => {
  writeFileSync(join(outdir, file), code);
  const gz = gzipSync(Buffer.from(code), { level: 9 }).length;
  console.log(`${join(outdir, file)}: ${Buffer.byteLength(code)} bytes raw, ${gz} bytes gzipped`);
  return gz;
};

// the parts attribution.js loads when a page needs them, named with a content hash
const part = async (file) => {
  const code = await bundle(file);
  report(file, code);
  return str(`${file}?${createHash('sha256').update(code).digest('hex').slice(0, 8)}`);
};
const core = await bundle('attribution.js', {
  CLICK_IDS: str([...Object.keys(data.click_ids), ...Object.keys(data.weak_click_ids)]),
  CLASSIFIER: await part('classify.js'),
  CONVERT: await part('convert.js'),
  BOOKING: await part('booking.js'),
});
const gz = report('attribution.js', core);
console.log(`budget for attribution.js: ${BUDGET} bytes gzipped`);
if (gz > BUDGET) {
  console.error(`over budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
