// The classifier, built to dist/classify.js. attribution.js loads it only when a touch needs it (a landing with
// UTMs, click ids or an outside referrer; a direct or internal visit never does), so most page views pay for
// none of the embedded data. It is connector/classify.py's algorithm on the same data file (see its _utm notes):
// build.mjs hands the data over ready to use ([param, channel, ai_source?] click rules, [host regex, channel,
// ai_source, utm_sources] sources, the *_re values as regex literals), so that arriving builds nothing, and a
// touch is classified with only the rules its own values reach (a click id decides alone; no UTM, no UTM rule).
import { internal } from './shared.js';
import {
  click_ids as CLICK_RULES,
  weak_click_ids as WEAK_RULES,
  sources as SOURCES,
  openai_ads_utm_sources as ADS_SOURCES,
  email_re as EMAIL,
  paid_medium_re as PAID,
  paid_social_medium_re as PAID_SOCIAL,
  medium_channels,
} from '../../connector/data/classification.json';

((w) => {
  let NONE = 'none';
  let lower = (v) => (v || '').trim().toLowerCase();
  // a source by its utm_source value, else by a host it matches
  let source = (v, byHost) => SOURCES.find((r) => (byHost ? r[0].test(v) : r[3].includes(v))) || (byHost ? [] : source(v, 1));
  let byUtm = (src, med) => {
    let paid = PAID.test(med);
    let [, ch, ai] = src ? source(src) : [];
    return ai
      ? ADS_SOURCES.includes(src) || (paid && ai == 'chatgpt')
        ? ['openai_ads', 'openai_ads'] // a paid OpenAI click: its own AI source, apart from ChatGPT organic
        : [paid ? 'other' : ch, ai]
      : [
          EMAIL.test(src) || EMAIL.test(med) || ch == 'email'
            ? 'email'
            : PAID_SOCIAL.test(med)
              ? 'paid_social'
              : ch
                ? paid
                  ? ch == 'social'
                    ? 'paid_social'
                    : 'paid_search'
                  : ch
                : paid
                  ? 'other'
                  : (medium_channels.find((m) => m[0].test(med)) || [, 'other'])[1],
          NONE,
        ];
  };
  let byReferrer = (referrer) => {
    let h = '';
    try {
      h = new URL(referrer).hostname.replace(/\.$/, '');
    } catch (e) {}
    // a referrer from this site (www. ignored, subdomains included) is an internal visit: direct
    return !h || internal(h, location.hostname) ? ['direct', NONE] : [(h = source(h, 1))[1] || 'referral', h[2] || NONE];
  };
  // one touch as attribution.js stores it: the landing page's query (first non-empty value of each parameter,
  // click ids as they appear in the URL), its decoded UTMs, and the referrer
  let classify = (t) => {
    let p = {};
    for (let [, k, v] of t.landing_page.split('#')[0].matchAll(/[?&]([^&=]+)=([^&]+)/g)) p[k] ||= v;
    let click = (rules) => (rules = rules.find((r) => p[r[0]])) && [rules[1], rules[2] || NONE];
    let src = lower(t.utm_source);
    let med = lower(t.utm_medium);
    return click(CLICK_RULES) || (src || med ? byUtm(src, med) : click(WEAK_RULES)) || byReferrer(t.referrer);
  };
  w.attribution && (w.attribution.classify = classify);
})(window);
