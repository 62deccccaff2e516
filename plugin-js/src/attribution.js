/*! connector attribution | MIT */
// Design goals, checked by build.mjs and the tests: at most 3,072 bytes gzipped (so: terse code, comments
// carry the reasons); never throw into the host page; never build HTML from values (attacker-controlled
// strings: only .value, .href, .src and JSON); nothing persisted and no pixel before consent where consent is
// required; fill only hidden or invisible fields the visitor has not typed into, matched exactly.
import {
  click_ids as CLICK_RULES,
  weak_click_ids as WEAK_RULES,
  sources,
  openai_ads_utm_sources as ADS_SOURCES,
  email_re,
  paid_medium_re,
  paid_social_medium_re,
  medium_channels,
} from '../../connector/data/classification.json';

((w, d, loc) => {
  if (w.attribution?.loaded) return; // loaded twice (plugin + manual tag): the first one works alone
  const UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'utm_id'];
  const CLICK = [...Object.keys(CLICK_RULES), ...Object.keys(WEAK_RULES)]; // oppref gclid ... fbclid
  const TOUCH = [...UTM, 'landing_page', 'referrer', 'channel', 'ai_source', 'touch_at'];
  const KEY = '_attr'; // localStorage key and cookie name
  const NONE = 'none';
  const META = 'metadata[event_id]';
  const T = (f, ...a) => {
    try {
      return f(...a);
    } catch (e) {}
  };
  const on = (target, type, f) => target.addEventListener(type, (e) => T(f, e), 1); // capture phase

  // ---- configuration: <script data-pixel-id=...> (dataset), overridden by window.attributionConfig ----
  const cfg = { ...d.currentScript?.dataset, ...w.attributionConfig };
  const flag = (v) => /^(1|true)$/.test(v);
  let debug = flag(cfg.debug);
  const log = (...a) => debug && console.log('[attribution]', ...a);
  const days = cfg.days || 90; // first/latest touch and click ids (Google Ads' longest click window)
  const byName = { __proto__: null }; // the site's field name -> canonical name
  [...TOUCH.map((k) => 'first_' + k), ...TOUCH.map((k) => 'latest_' + k), ...CLICK, 'conversion_page', 'consent', 'event_id', 'submitted_at'].forEach(
    (f) => (byName[f] = f),
  );
  (cfg.fields || '').split(/[\s,]+/).forEach((p) => {
    const [canonical, name] = p.split(':');
    name && (byName[name] = canonical);
  });

  const now = () => new Date().toISOString();
  const cut = (v) => String(v).slice(0, 2048); // as the server keeps (connector.attribution.MAX_FIELD_LENGTH)
  const lower = (v) => (v || '').trim().toLowerCase();
  const uuid = () => crypto.randomUUID?.() || URL.createObjectURL(new Blob()).slice(-36); // insecure-origin fallback
  // JSON with strings cut shorter until the text fits `max` as measured by `size`; ids are never cut
  const fit = (o, max, size) => {
    let s;
    for (const n of [2048, 300, 99, 40]) {
      s = JSON.stringify(o, (k, v) => (v.slice && !/^(event_id|uid|\w+_uri)$/.test(k) ? v.slice(0, n) : v));
      if (size(s) < max) break;
    }
    return s;
  };

  // ---- classification: connector/classify.py's algorithm on the same data file (see its _utm notes) ----
  const SOURCES = sources.map((r) => [
    RegExp('(^|\\.)(' + r.hosts.join('|').replace(/\./g, '\\.').replace(/\\\.\*/g, '\\.[a-z]{2,3}(\\.[a-z]{2})?') + ')$'),
    r.channel,
    r.ai_source,
    r.utm_sources || [],
  ]);
  const source = (v, byHost) => SOURCES.find((r) => (byHost ? r[0].test(v) : r[3].includes(v))) || (byHost ? [] : source(v, 1));
  const [EMAIL, PAID, PAID_SOCIAL] = [email_re, paid_medium_re, paid_social_medium_re].map((r) => RegExp(r));
  const classify = (p, ref) => {
    const click = (rules) => {
      for (const k in rules) if (p[k]) return [rules[k][0], rules[k][1] || NONE];
    };
    const src = lower(p.utm_source);
    const med = lower(p.utm_medium);
    const paid = PAID.test(med);
    const [, ch, ai] = source(src);
    let h = '';
    T(() => (h = new URL(ref).hostname.replace(/\.$/, '')));
    const a = h.replace(/^www\./, '');
    const b = loc.hostname.replace(/^www\./, '');
    const r = source(h, 1);
    return (
      click(CLICK_RULES) ||
      (src || med
        ? ai
          ? [ADS_SOURCES.includes(src) || (paid && ai == 'chatgpt') ? 'openai_ads' : paid ? 'other' : ch, ai]
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
                      : (medium_channels.find((m) => RegExp(m[0]).test(med)) || [, 'other'])[1],
              NONE,
            ]
        : click(WEAK_RULES)) ||
      // a referrer from this site (www. ignored, subdomains included) is an internal visit: direct
      (!h || a == b || a.endsWith('.' + b) || b.endsWith('.' + a) ? ['direct', NONE, h] : [r[1] || 'referral', r[2] || NONE])
    );
  };

  // ---- this page's touch, kept in memory until consent allows storing it ----
  const params = {};
  for (const k of [...UTM, ...CLICK]) {
    let v = loc.search.match('[?&]' + k + '=([^&]+)')?.[1];
    // click ids are opaque: kept exactly as in the URL (oppref byte for byte); UTMs are decoded
    UTM.includes(k) && T(() => (v = decodeURIComponent(v.replace(/\+/g, ' '))));
    if (v) params[k] = cut(v);
  }
  const [channel, aiSource, internal] = classify(params, d.referrer);
  const touch = { landing_page: cut(loc.href), referrer: cut(d.referrer), channel, ai_source: aiSource, touch_at: now() };
  UTM.forEach((k) => params[k] && (touch[k] = params[k]));

  // ---- persistence: localStorage + a root-domain cookie mirror (subdomains, storage cleared by Safari) ----
  const fresh = (t, n = days) => Date.now() - Date.parse(t) < n * 864e5;
  const pick = (x, y, later) => (!x || (y && y.touch_at > x.touch_at == later) ? y : x);
  const read = () => {
    const r = { c: {} };
    for (const g of [
      T(() => JSON.parse(decodeURIComponent(d.cookie.match('(^|; )' + KEY + '=([^;]*)')[2]))),
      T(() => JSON.parse(localStorage[KEY])),
    ]) {
      if (g?.c) {
        r.f = pick(r.f, g.f, 0); // the older first touch
        r.l = pick(r.l, g.l, 1); // the newer latest touch
        Object.assign(r.c, g.c);
      }
    }
    fresh(r.l?.touch_at) || (r.l = 0);
    fresh(r.f?.touch_at) || (r.f = r.l);
    for (const k in r.c) fresh(r.c[k][1], k == 'oppref' ? cfg.opprefDays || 30 : days) || delete r.c[k];
    return r;
  };
  const withTouch = (r) => {
    CLICK.forEach((k) => params[k] && (r.c[k] = [params[k], touch.touch_at])); // latest non-empty click ids
    if (!internal || !r.l) {
      r.f ||= touch; // first touch: never overwritten while it lives
      if (channel != 'direct' || !r.l) r.l = touch; // a direct visit never replaces a latest touch
    }
    return r;
  };
  const cookie = (v, age) =>
    (d.cookie = KEY + '=' + v + ';path=/;samesite=lax;max-age=' + age + (cfg.rootDomain ? ';domain=' + cfg.rootDomain : '') + (loc.protocol == 'https:' ? ';secure' : ''));

  // ---- consent: WP Consent API, Google Consent Mode (ad_storage), attribution('consent', bool) ----
  let consent = 'unknown';
  let withdrawn; // a "no" after load clears what we stored; initial states never clear
  let rec = { c: {} };
  const allowed = () => consent == 'granted' || (consent == 'unknown' && cfg.consent == 'optional');
  const sync = () => {
    rec = withTouch((allowed() && T(read)) || { c: {} });
    if (allowed()) {
      T(() => (localStorage[KEY] = JSON.stringify(rec)));
      T(cookie, encodeURIComponent(fit(rec, 3800, (s) => encodeURIComponent(s).length)), days * 86400);
      loadPixel();
    } else if (withdrawn) {
      T(() => localStorage.removeItem(KEY));
      T(cookie, '', 0);
    }
    scan(d);
    log(consent, rec);
  };
  const setConsent = (yes, quiet) => {
    consent = yes ? 'granted' : 'denied';
    withdrawn = !yes && !quiet;
    quiet || sync();
  };
  const gcm = (a, quiet) => {
    const s = a?.[0] == 'consent' && a[2]?.ad_storage;
    s && setConsent(s == 'granted', quiet || a[1] != 'update'); // 'default' is an initial state
  };
  const dl = (w.dataLayer ||= []);
  [].forEach.call(dl, (a) => gcm(a, 1));
  const push = dl.push;
  dl.push = function (...a) {
    a.forEach((x) => T(gcm, x));
    return push.apply(this, a);
  };
  w.wp_has_consent && setConsent(w.wp_has_consent('marketing'), 1);
  on(d, 'wp_listen_for_consent_change', (e) => e.detail.marketing && setConsent(e.detail.marketing == 'allow'));

  // ---- OpenAI pixel: queue stub, loader only after consent, init exactly once ----
  let pixelOn;
  const loadPixel = () => {
    if (cfg.pixelId && !pixelOn && allowed()) {
      pixelOn = 1;
      const q = (w.oaiq ||= (...a) => (q.q ||= []).push(a));
      q('init', { pixelId: cfg.pixelId, debug: flag(cfg.pixelDebug) });
      d.head.append(Object.assign(d.createElement('script'), { async: 1, src: 'https://bzrcdn.openai.com/sdk/oaiq.min.js' }));
    }
  };
  const measure = (event, eventId) => {
    if (cfg.pixelId && allowed() && event != NONE) {
      loadPixel();
      // the event's data type; any other name goes out as a custom event
      const type = /^(lead_created|registration_completed|appointment_scheduled)$/.test(event)
        ? 'customer_action'
        : /^(subscription_created|trial_started)$/.test(event) && 'plan_enrollment';
      w.oaiq('measure', type ? event : 'custom', { type: type || 'custom' }, type ? { event_id: eventId } : { event_id: eventId, custom_event_name: event.replace(/^custom:/, '') });
      log(event, eventId);
    }
  };

  // ---- hidden fields ----
  const values = () => {
    const o = { conversion_page: cut(loc.href), consent };
    TOUCH.forEach((k) => {
      o['first_' + k] = (rec.f || touch)[k] || '';
      o['latest_' + k] = (rec.l || touch)[k] || '';
    });
    CLICK.forEach((k) => (o[k] = rec.c[k]?.[0] || ''));
    return o;
  };
  const typed = new WeakSet(); // fields the visitor typed into: never ours to write
  const ours = new WeakSet(); // forms holding at least one of our fields
  const ids = new WeakMap(); // form -> event_id of its current submission attempt
  const owner = (el) => el.form || el.closest('form,.nf-form-cont') || d.body; // Ninja Forms renders no <form>
  const eventId = (form, renew) => ((renew || !ids.has(form)) && ids.set(form, uuid()), ids.get(form));
  const fieldKey = (el) => {
    const n = el.name;
    let k =
      byName[n] ||
      byName[n.match(/\[(\w+)\]$/)?.[1]] || // Elementor form_fields[x], or a site mapping to item_meta[12]
      byName[el.id] ||
      byName[el.id.replace(/^(field_|form-field-)/, '')] || // Formidable field key, Elementor field id
      byName[el.dataset.attribution];
    // a CSS class on the field or on its one-field wrapper (Gravity Forms, WPForms, Ninja Forms)
    for (let e = el, i = 0; !k && i++ < 5 && e && e.tagName != 'FORM'; e = e.parentElement) {
      for (const c of e.classList) byName[c] && e.querySelectorAll('input,textarea').length < 2 && (k = byName[c]);
    }
    return k;
  };
  // fill our fields under `node`; decorate booking links and iframes there too
  const scan = (node, submitting) => {
    let v;
    const latest = rec.l || touch;
    for (const el of node.querySelectorAll ? [node, ...node.querySelectorAll('input,textarea,a,iframe')] : []) {
      T(() => {
        if (/^(A|IFRAME)$/.test(el.tagName)) {
          // booking widgets: the latest UTMs, and for Cal.com our event_id, which it returns in metadata
          const a = el.src ? 'src' : 'href';
          const u = new URL(el[a]);
          const cal = isCal(u.origin);
          const q = u.searchParams;
          if (cal || CALENDLY.test(u.origin)) {
            UTM.forEach((k) => latest[k] && !q.has(k) && q.set(k, latest[k]));
            cal && !q.has(META) && q.set(META, bookingId);
            u.href != el[a] && (el[a] = u.href);
          }
          return;
        }
        const k = fieldKey(el);
        if (!k || typed.has(el) || !(el.type == 'hidden' || (/^text/.test(el.type) && !el.checkVisibility({ visibilityProperty: 1 })))) return;
        const form = owner(el);
        ours.add(form);
        const x = k == 'event_id' ? eventId(form) : k == 'submitted_at' ? submitting == form && now() : (v ||= values())[k];
        if (x && el.value != x) {
          el.value = x;
          // model-driven plugins (Ninja Forms' Backbone views) update their models from these events
          for (const t of ['input', 'change']) el.dispatchEvent(new Event(t, { bubbles: 1 }));
        }
      });
    }
  };
  // one submission attempt: a fresh event_id into the form, and the pixel with that same id
  const submitAttempt = (form) => {
    const ev = form.dataset.attributionEvent;
    eventId(form, 1);
    scan(form, form);
    (ours.has(form) || ev) && measure(ev || cfg.pixelEvent || 'lead_created', eventId(form));
  };
  on(d, 'input', (e) => e.isTrusted && typed.add(e.target));
  on(d, 'submit', (e) => submitAttempt(e.target)); // capture: before the plugins' own handlers read fields
  // Ninja Forms submits from a plain button with its own click handler: no submit event
  on(d, 'click', (e) => {
    const b = e.target.closest('.submit-container [type=button]');
    b && submitAttempt(owner(b));
  });

  // ---- booking widgets: bookings back out, linked to a fresh event_id by a beacon ----
  const CALENDLY = /^https:\/\/([\w-]+\.)*calendly\.com$/;
  const isCal = (origin) => /^https:\/\/([\w-]+\.)*cal\.com$/.test(origin) || (cfg.calOrigins || '').split(/[\s,]+/).includes(origin);
  const bookingId = uuid(); // put into Cal.com embeds as metadata[event_id]; used by the first Cal.com booking
  let bookingIdUsed = 0;
  const booked = (provider, booking) => {
    const id = provider == 'cal_com' && !bookingIdUsed++ ? bookingId : uuid();
    const attribution = values();
    measure('appointment_scheduled', id);
    attribution.event_id = id;
    for (const k in attribution) attribution[k] || delete attribution[k];
    const body = { v: 1, type: 'booking', event_id: id, provider, booking, attribution, page: loc.href, ts: now() };
    log(body);
    // text/plain + keepalive: no CORS preflight, survives navigation; errors never reach the page
    cfg.endpoint &&
      fetch(cfg.endpoint.replace(/\/$/, '') + '/collect', {
        method: 'POST',
        keepalive: 1,
        body: fit(body, 4000, (s) => new Blob([s]).size),
        headers: { 'Content-Type': 'text/plain' },
      }).catch(log);
  };
  on(w, 'message', (e) => {
    const m = e.data;
    const s = (v) => String(v).slice(0, 300);
    CALENDLY.test(e.origin) &&
      m.event == 'calendly.event_scheduled' &&
      booked('calendly', { invitee_uri: s(m.payload.invitee.uri), event_uri: s(m.payload.event.uri) });
    isCal(e.origin) && m.originator == 'CAL' && m.type == 'bookingSuccessfulV2' && booked('cal_com', { uid: s(m.data.uid) });
  });

  // ---- public API; replays what the pre-load stub queued ----
  const api = (cmd, a) =>
    T(() => {
      let v = values();
      return cmd == 'get'
        ? (a?.(v), v)
        : cmd == 'consent'
          ? setConsent(a === true || /^(true|granted)$/.test(a))
          : cmd == 'fill'
            ? scan(a || d)
            : cmd == 'debug'
              ? (debug = a)
              : cmd == 'measure' && (measure(a, (v = uuid())), v);
    });
  const queued = w.attribution?.q || [];
  api.loaded = 1;
  w.attribution = api;
  T(sync);
  T(() => new MutationObserver((list) => list.forEach((m) => m.addedNodes.forEach((n) => scan(n)))).observe(d.documentElement, { childList: 1, subtree: 1 }));
  queued.forEach((a) => api(...a));
})(window, document, location);
