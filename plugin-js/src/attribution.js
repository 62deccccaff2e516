// Design goals, checked by build.mjs and the tests: at most 3,072 bytes gzipped (so: terse code, comments
// carry the reasons); never throw into the host page; never build HTML from values (attacker-controlled
// strings: only .value, .href, .src and JSON); nothing persisted and no pixel before consent where consent is
// required; fill only hidden or invisible fields the visitor has not typed into, matched exactly. (`let` even
// where nothing is reassigned: terser keeps declarations as written, and `const` costs two bytes more.)
// What only some pages need lives in parts loaded on demand (see `lazy`): the channel / AI-source classifier
// with its data (src/classify.js) and the booking widgets (src/booking.js). build.mjs defines CLICK_IDS (the
// click-id parameters, from the classification data file) and CLASSIFIER / BOOKING (the parts' file names
// with their content hash).
import { internal, uuid } from './shared.js';

((w, d, loc) => {
  if (w.attribution?.loaded) return; // loaded twice (plugin + manual tag): the first one works alone
  let UTM = 'source medium campaign content term id'.split(' ').map((k) => 'utm_' + k);
  let CLICK = CLICK_IDS; // oppref gclid ... fbclid (build.mjs defines it from the data file)
  let KEY = '_attr'; // localStorage key and cookie name
  let NONE = 'none';
  let EVENT_ID = 'event_id';
  let T = (f, ...a) => {
    try {
      return f(...a);
    } catch (e) {}
  };
  let on = (target, type, f) => target.addEventListener(type, (e) => T(f, e), 1); // capture phase
  let list = (v) => (v || '').split(/[\s,]+/);

  // ---- configuration: <script data-pixel-id=...> (dataset), overridden by window.attributionConfig ----
  let me = d.currentScript || {};
  let cfg = { ...me.dataset, ...w.attributionConfig };
  let flag = (v) => v == 'true' || v == 1; // data-* strings, or true / 1 in the config object
  let debug = flag(cfg.debug);
  let log = (...a) => debug && console.log('[attribution]', ...a);
  let days = cfg.days || 90; // first/latest touch and click ids (Google Ads' longest click window)

  let now = () => new Date().toISOString();
  let cut = (v) => String(v).slice(0, 2048); // as the server keeps (connector.attribution.MAX_FIELD_LENGTH)

  // ---- this page's touch, kept in memory until consent allows storing it ----
  // (The usual first visit throws nothing: a page's first exception costs about 1 ms in Chromium.)
  // the first non-empty value of each parameter (one RegExp for all: every RegExp costs start-up time)
  let params = {};
  for (let [, k, v] of loc.search.matchAll(/[?&]([^&=]+)=([^&]+)/g)) {
    // click ids are opaque: kept exactly as in the URL (oppref byte for byte); UTMs are decoded
    UTM.includes(k) && T(() => (v = decodeURIComponent(v.replace(/\+/g, ' '))));
    params[k] ||= cut(v);
  }
  let ref = d.referrer;
  let h = '';
  ref && T(() => (h = new URL(ref).hostname.replace(/\.$/, '')));
  // no click id, no utm_source or utm_medium, and no referrer or one from this site (www. ignored, subdomains
  // included): the classifier would say direct, so this visit needs no classifier (most page views)
  let direct = ![...CLICK, UTM[0], UTM[1]].some((k) => params[k]?.trim()) && (!h || internal(h, loc.hostname));
  let touch = {
    landing_page: cut(loc.href),
    referrer: cut(ref),
    channel: direct && 'direct',
    ai_source: direct && NONE,
    touch_at: now(),
  };
  UTM.map((k) => (touch[k] = params[k])); // absent ones stay undefined: JSON leaves them out
  let TOUCH = Object.keys(touch);

  // ---- persistence: localStorage + a root-domain cookie mirror (subdomains, storage cleared by Safari) ----
  let fresh = (t, n = days) => Date.now() - Date.parse(t) < n * 864e5;
  // the earlier (first touch) or later (latest touch) of two; on a tie x, read from localStorage (the cookie's
  // copy may be cut to fit)
  let pick = (x, y, later) => (!x || (y && y.touch_at != x.touch_at && y.touch_at > x.touch_at == later) ? y : x);
  // localStorage first; the cookie only when it may know more: shared across subdomains (rootDomain), or
  // localStorage empty or unavailable. (Reading document.cookie is a round trip to the browser's network
  // process, the largest single cost of a page load here.)
  let read = () => {
    let r = { c: {} };
    let stored = T(() => JSON.parse(localStorage[KEY] || 0));
    for (let g of [stored, (cfg.rootDomain || !stored?.c) && T(() => JSON.parse(decodeURIComponent(d.cookie.match('(^|; )' + KEY + '=([^;]*)')?.[2] || 0)))]) {
      if (g?.c) {
        r.f = pick(r.f, g.f, 0); // the older first touch
        r.l = pick(r.l, g.l, 1); // the newer latest touch
        for (let k in g.c) r.c[k]?.[1] >= g.c[k][1] || (r.c[k] = g.c[k]); // the newer value of each click id
      }
    }
    fresh(r.l?.touch_at) || (r.l = 0);
    fresh(r.f?.touch_at) || (r.f = r.l);
    for (let k in r.c) fresh(r.c[k][1], k == 'oppref' ? cfg.opprefDays || 30 : days) || delete r.c[k];
    return r;
  };
  // the first touch is never overwritten while it lives; a direct visit (no referrer, or one from this site)
  // never replaces a latest touch. (A stored latest touch implies a stored first touch: see read.)
  let withTouch = (r) => {
    CLICK.map((k) => params[k] && (r.c[k] = [params[k], touch.touch_at])); // latest non-empty click ids
    r.f ||= touch;
    (!direct || !r.l) && (r.l = touch);
    return r;
  };
  let cookie = (v, age) =>
    (d.cookie = KEY + '=' + v + ';path=/;samesite=lax;max-age=' + age + (cfg.rootDomain ? ';domain=' + cfg.rootDomain : '') + (loc.protocol == 'https:' ? ';secure' : ''));

  // ---- parts only some pages need, requested once from next to this script (or data-base) when needed; the
  // content hash in their names means an upgrade never meets a stale cached copy. f runs once the part has
  // arrived or failed to.
  let load = (src, f) => d.head.append(Object.assign(d.createElement('script'), { src, onload: f, onerror: f }));
  let lazy = (file, q = [], done) => (f) => (done ? T(f) : q.push(f) > 1 || load((cfg.base ?? me.src?.replace(/[^/]*$/, '')) + file, () => ((done = 1), q.map(T))));

  // ---- classification: dist/classify.js, for a touch with no channel yet (a landing with UTMs, click ids or
  // an outside referrer; a touch stored before it arrived). If it never arrives (blocked, offline), the channel
  // fields stay empty and the connector classifies the same touch from its landing page and referrer with the
  // same data file.
  let classify;
  let classifier = lazy(CLASSIFIER);
  let classifyTouches = () =>
    [rec.f, rec.l].map(
      (t) =>
        t.channel ||
        (classify ? T(() => ([t.channel, t.ai_source] = classify(t))) : classifier(() => classify || ((classify = api.classify || (() => [])), sync()))),
    );

  // ---- consent: WP Consent API, Google Consent Mode (ad_storage), attribution('consent', bool) ----
  let consent = 'unknown';
  let withdrawn; // a "no" after load clears what we stored; initial states never clear
  let rec = { c: {} };
  let allowed = () => consent == 'granted' || (consent == 'unknown' && cfg.consent == 'optional');
  let sync = () => {
    rec = withTouch((allowed() && T(read)) || { c: {} });
    classifyTouches();
    if (allowed()) {
      T(() => (localStorage[KEY] = JSON.stringify(rec)));
      // the mirror stays under 4 KB (browsers drop a larger cookie): strings cut shorter until it fits (only
      // absurd values get cut: localStorage keeps them whole, and wins when both are read)
      let s;
      for (let n of [2048, 300, 99, 40]) if ((s = encodeURIComponent(JSON.stringify(rec, (k, v) => (v?.slice ? v.slice(0, n) : v)))).length < 3800) break;
      T(cookie, s, days * 86400);
      loadPixel();
    } else if (withdrawn) {
      T(() => delete localStorage[KEY]);
      T(cookie, '', 0);
    }
    scan(d);
    log(consent, rec);
  };
  let setConsent = (yes, quiet) => {
    consent = yes ? 'granted' : 'denied';
    withdrawn = !yes && !quiet;
    quiet || sync();
  };
  let gcm = (a, quiet) => {
    let s = a?.[0] == 'consent' && a[2]?.ad_storage;
    s && setConsent(s == 'granted', quiet || a[1] != 'update'); // 'default' is an initial state
  };
  let dl = (w.dataLayer ||= []);
  dl.map((a) => gcm(a, 1)); // an Array, as gtag.js and GTM require
  let push = dl.push;
  dl.push = function (...a) {
    a.map((x) => T(gcm, x));
    return push.apply(this, a);
  };
  w.wp_has_consent && setConsent(w.wp_has_consent('marketing'), 1);
  on(d, 'wp_listen_for_consent_change', (e) => (e = e.detail.marketing) && setConsent(e == 'allow'));

  // ---- OpenAI pixel: queue stub, loader only after consent, init exactly once ----
  let pixelOn;
  let loadPixel = () => {
    if (cfg.pixelId && !pixelOn && allowed()) {
      pixelOn = 1;
      let q = (w.oaiq ||= (...a) => (q.q ||= []).push(a));
      q('init', { pixelId: cfg.pixelId, debug: flag(cfg.pixelDebug) });
      load('https://bzrcdn.openai.com/sdk/oaiq.min.js');
    }
  };
  let measure = (event, event_id) => {
    if (cfg.pixelId && allowed() && event != NONE) {
      loadPixel();
      // the event's data type; any other name goes out as a custom event
      let data = { event_id };
      let type = /^(lead_created|registration_completed|appointment_scheduled)$/.test(event)
        ? 'customer_action'
        : /^(subscription_created|trial_started)$/.test(event) && 'plan_enrollment';
      type || ((data.custom_event_name = event.replace(/^custom:/, '')), (event = type = 'custom'));
      w.oaiq('measure', event, { type }, data);
      log(event, event_id);
    }
  };

  // ---- hidden fields ----
  let values = () => {
    let o = { conversion_page: cut(loc.href), consent };
    TOUCH.map((k) => {
      o['first_' + k] = (rec.f || touch)[k] || '';
      o['latest_' + k] = (rec.l || touch)[k] || '';
    });
    CLICK.map((k) => (o[k] = rec.c[k]?.[0] || ''));
    return o;
  };
  let byName = { __proto__: null }; // the site's field name -> canonical name
  [...Object.keys(values()), EVENT_ID, 'submitted_at'].map((f) => (byName[f] = f));
  list(cfg.fields).map((p) => {
    let [canonical, name] = p.split(':');
    name && (byName[name] = canonical);
  });
  let typed = new WeakSet(); // fields the visitor typed into: never ours to write
  let ours = new WeakSet(); // forms holding at least one of our fields
  let ids = new WeakMap(); // form -> event_id of its current submission attempt
  let owner = (el) => el.form || el.closest('form,.nf-form-cont') || d.body; // Ninja Forms renders no <form>
  let eventId = (form, renew) => ((renew || !ids.has(form)) && ids.set(form, uuid()), ids.get(form));
  let FIELDS = 'input,textarea';
  let fieldKey = (el) => {
    let n = el.name;
    let k =
      byName[n] ||
      byName[n.match(/\[(\w+)\]$/)?.[1]] || // Elementor form_fields[x], or a site mapping to item_meta[12]
      byName[el.id] ||
      byName[el.id.replace(/^(field_|form-field-)/, '')] || // Formidable field key, Elementor field id
      byName[el.dataset.attribution];
    // a CSS class on the field or on its one-field wrapper (Gravity Forms, WPForms, Ninja Forms)
    for (let e = el, i = 0; !k && i++ < 5 && e && e.tagName != 'FORM'; e = e.parentElement) {
      for (let c of e.classList) byName[c] && e.querySelectorAll(FIELDS).length < 2 && (k = byName[c]);
    }
    return k;
  };
  // fill our fields under `node`; decorate booking links and iframes there too
  let scan = (node, submitting) => {
    let v;
    let sel = FIELDS + ',a,iframe,script';
    for (let el of node.querySelectorAll ? [node, ...node.querySelectorAll(sel)].filter((e) => e.matches?.(sel)) : []) {
      T(() => {
        // booking links and embeds, and the vendors' widget scripts, so that the part is here before their
        // iframes (an <a> without href, an iframe or script without src: 'a:', no exception)
        if (/^(A|IFRAME|SCRIPT)$/.test(el.tagName)) return isBooking(new URL(el.src || el.href || 'a:').origin) && toBooking(el);
        let k = fieldKey(el);
        if (!k || typed.has(el) || !(el.type == 'hidden' || (/^text/.test(el.type) && !el.checkVisibility({ visibilityProperty: 1 })))) return;
        let form = owner(el);
        ours.add(form);
        let x = k == EVENT_ID ? eventId(form) : k == 'submitted_at' ? submitting == form && now() : (v ||= values())[k];
        if (x && el.value != x) {
          el.value = x;
          // model-driven plugins (Ninja Forms' Backbone views) update their models from these events
          ['input', 'change'].map((t) => el.dispatchEvent(new Event(t, { bubbles: 1 })));
        }
      });
    }
  };
  // one submission attempt: a fresh event_id into the form, and the pixel with that same id
  let submitAttempt = (form) => {
    let ev = form.dataset.attributionEvent;
    eventId(form, 1);
    scan(form, form);
    (ours.has(form) || ev) && measure(ev || cfg.pixelEvent || 'lead_created', eventId(form));
  };
  on(d, 'input', (e) => e.isTrusted && typed.add(e.target));
  on(d, 'submit', (e) => submitAttempt(e.target)); // capture: before the plugins' own handlers read fields
  // Ninja Forms submits from a plain button with its own click handler: no submit event
  on(d, 'click', (e) => (e = e.target.closest('.submit-container [type=button]')) && submitAttempt(owner(e)));

  // ---- booking widgets (Calendly, Cal.com): dist/booking.js, loaded on a page that links or embeds one or
  // hears from one, decorates those links and iframes and turns their booking messages into beacons ----
  let isBooking = (origin) => /^https:\/\/([\w-]+\.)*(calendly|cal)\.com$/.test(origin) || list(cfg.calOrigins).includes(origin);
  let booking = lazy(BOOKING);
  let toBooking = (x) => booking(() => api.booking(x, cfg, log));
  on(w, 'message', (e) => isBooking(e.origin) && toBooking(e));

  // ---- public API; replays what the pre-load stub queued ----
  let api = (cmd, a, b) =>
    T(() => {
      let v = values();
      return cmd == 'get'
        ? // a callback runs once the touches are classified: now, or after the classifier's own callback
          (a && (classify || (rec.f.channel && rec.l.channel) ? a(v) : classifier(() => a(values()))), v)
        : cmd == 'consent'
          ? setConsent(/^(true|granted)$/.test(a)) // true, 'true' or 'granted'
          : cmd == 'fill'
            ? scan(a || d)
            : cmd == 'debug'
              ? (debug = a)
              : cmd == 'measure' && (measure(a, (v = b || uuid())), v);
    });
  let queued = w.attribution?.q || [];
  api.loaded = 1;
  w.attribution = api;
  T(sync);
  T(() => new MutationObserver((ms) => ms.map((m) => m.addedNodes.forEach(scan))).observe(d.documentElement, { childList: 1, subtree: 1 }));
  queued.map((a) => api(...a));
})(window, document, location);
