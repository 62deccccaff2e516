// Design goals, checked by build.mjs and the tests: at most 3,072 bytes gzipped; never throw into the host
// page; never build HTML from values (attacker-controlled strings: only .value, .href, .src and JSON); nothing
// persisted, no pixel and no touch in the form before consent where a consent platform asks for it; fill only
// hidden or invisible fields the visitor has not typed into, matched exactly, and always with a whole touch.
// The source is written for readers: terser does the golfing (booleans as integers, `if` as `&&`).
// What only some pages need lives in parts loaded on demand (see `lazy`): the channel / AI-source classifier
// with its data (src/classify.js), conversions - the pixel's measure calls and each form plugin's success
// signal - (src/convert.js) and the booking widgets (src/booking.js). build.mjs defines CLICK_IDS (the
// click-id parameters, from the classification data file) and CLASSIFIER / CONVERT / BOOKING (the parts'
// file names with their content hash).
import { PENDING_KEY, internal, uuid } from './shared.js';

((w, d, loc) => {
  if (w.attribution?.loaded) return; // loaded twice (plugin + manual tag): the first one works alone
  let UTM = 'utm_source utm_medium utm_campaign utm_content utm_term utm_id'.split(' ');
  let KEY = '_attr'; // cookie name and localStorage key
  let CONSENT_KEY = '_attr_consent'; // cookie: the visitor's answer given through attribution('consent')
  let T = (f, ...a) => {
    try {
      return f(...a);
    } catch (e) {}
  };
  let on = (target, type, f) => target.addEventListener(type, (e) => T(f, e), true); // capture phase
  let list = (v) => (v || '').split(/[\s,]+/);
  let yes = (v) => /^(true|granted|1)$/.test(v); // data-* strings, or true / 1 in the config object

  // ---- configuration: <script data-pixel-id=...> (dataset), overridden by window.attributionConfig ----
  let me = d.currentScript || {};
  let cfg = { ...me.dataset, ...w.attributionConfig };
  let debug = yes(cfg.debug);
  let log = (...a) => {
    if (debug) console.log('[attribution]', ...a);
  };
  let days = cfg.days || 90; // first/latest touch and click ids (Google Ads' longest click window)

  let now = () => new Date().toISOString();
  let cut = (v) => String(v).slice(0, 2048); // as the server keeps (connector.attribution.MAX_FIELD_LENGTH)

  // ---- this page's touch, kept in memory until consent allows storing it ----
  // (The usual first visit throws nothing: a page's first exception costs about 1 ms in Chromium.)
  // the first non-empty value of each parameter (one RegExp for all: every RegExp costs start-up time)
  let params = {};
  for (let [, k, v] of loc.search.matchAll(/[?&]([^&=]+)=([^&]+)/g)) {
    // click ids are opaque: kept exactly as in the URL (oppref byte for byte); UTMs are decoded
    if (UTM.includes(k)) T(() => (v = decodeURIComponent(v.replace(/\+/g, ' '))));
    params[k] ||= cut(v);
  }
  let ref = d.referrer;
  let host = '';
  if (ref) T(() => (host = new URL(ref).hostname.replace(/\.$/, '')));
  // no click id, no utm_source or utm_medium, and no referrer or one from this site (www. ignored, subdomains
  // included): the classifier would say direct, so this visit needs no classifier (most page views)
  let direct = ![...CLICK_IDS, UTM[0], UTM[1]].some((k) => params[k]?.trim()) && (!host || internal(host, loc.hostname));
  let touch = {
    landing_page: cut(loc.href),
    referrer: cut(ref),
    channel: direct ? 'direct' : '',
    ai_source: direct ? 'none' : '',
    touch_at: now(),
  };
  for (let k of UTM) touch[k] = params[k]; // absent ones stay undefined: JSON leaves them out
  let TOUCH = Object.keys(touch);

  // ---- persistence: a first-party cookie (on the root domain: shared by subdomains), and localStorage only for
  // what the cookie had to cut. The cookie is read anyway (one call to the browser), localStorage is not: the
  // first use of localStorage on a page waits 1-2 ms for the browser to load the origin's storage. ----
  let fresh = (t, n = days) => Date.now() - Date.parse(t) < n * 864e5;
  // the earlier (first touch) or later (latest touch) of two; on a tie x, read from localStorage (the cookie's
  // copy may be cut to fit)
  let pick = (x, y, later) => (!x || (y && y.touch_at != x.touch_at && y.touch_at > x.touch_at == later) ? y : x);
  // document.cookie as read last, until our next write (each read is a call to the browser)
  let cookies;
  let jar = (name) => decodeURIComponent((cookies ??= d.cookie).match('(^|; )' + name + '=([^;]*)')?.[2] || '');
  // the cookie; localStorage's whole copy too when the cookie says it was cut (x), which wins on a tie
  let read = () => {
    let r = { c: {} };
    let c = T(() => JSON.parse(jar(KEY) || 0));
    for (let g of [c?.x && T(() => JSON.parse(localStorage[KEY])), c]) {
      if (!g?.c) continue;
      r.f = pick(r.f, g.f, false); // the older first touch
      r.l = pick(r.l, g.l, true); // the newer latest touch
      for (let k in g.c) if (!(r.c[k]?.[1] >= g.c[k][1])) r.c[k] = g.c[k]; // the newer value of each click id
    }
    if (!fresh(r.l?.touch_at)) r.l = 0;
    if (!fresh(r.f?.touch_at)) r.f = r.l;
    for (let k in r.c) if (!fresh(r.c[k][1], k == 'oppref' ? cfg.opprefDays || 30 : days)) delete r.c[k];
    return r;
  };
  // the first touch is never overwritten while it lives; a direct visit (no referrer, or one from this site)
  // never replaces a latest touch. (A stored latest touch implies a stored first touch: see read.)
  let withTouch = (r) => {
    CLICK_IDS.map((k) => params[k] && (r.c[k] = [params[k], touch.touch_at])); // latest non-empty click ids
    r.f ||= touch;
    if (!direct || !r.l) r.l = touch;
    return r;
  };
  let cookie = (name, v, age) =>
    ((d.cookie = name + '=' + v + ';path=/;samesite=lax;max-age=' + age + (cfg.rootDomain ? ';domain=' + cfg.rootDomain : '') + (loc.protocol == 'https:' ? ';secure' : '')), (cookies = null));

  // ---- parts only some pages need, requested once from next to this script (or data-base) when needed; the
  // content hash in their names means an upgrade never meets a stale cached copy. f runs once the part has
  // arrived or failed to.
  let load = (src, f) => d.head.append(Object.assign(d.createElement('script'), { src, onload: f, onerror: f }));
  let lazy = (file, queue = [], done) => (f) => {
    if (done) return T(f);
    if (queue.push(f) == 1) load((cfg.base ?? me.src?.replace(/[^/]*$/, '')) + file, () => ((done = true), queue.map(T)));
  };

  // ---- classification: dist/classify.js, for a touch with no channel yet (a landing with UTMs, click ids or
  // an outside referrer; a touch stored before it arrived). If it never arrives (blocked, offline), the channel
  // fields stay empty and the connector classifies the same touch from its landing page and referrer with the
  // same data file.
  let classify;
  let channeled = () => classify || (rec.f?.channel && rec.l.channel); // the touches have their channels (or never will)
  let classifier = lazy(CLASSIFIER);
  let classifyTouches = () => {
    for (let t of [rec.f, rec.l]) {
      if (t.channel) continue;
      if (classify) T(() => ([t.channel, t.ai_source] = classify(t)));
      else classifier(() => classify || ((classify = api.classify || (() => [])), sync(true)));
    }
  };

  // ---- consent. Modes (cfg.consent): "auto" (the default) follows a consent platform when the page has one
  // and stores when it has none; "required" waits for a "yes" from one. The platforms: the WP Consent API,
  // Google Consent Mode (ad_storage), and attribution('consent', bool) from a banner - whose answer is
  // remembered, so the banner need not repeat it on every page. ----
  let consent; // before the start below: a platform's or a queued answer (the remembered one is read there)
  let withdrawn; // a "no" that clears what we stored: a visitor's answer or a change after load, never an initial state
  let rec = { c: {} };
  let allowed = () => consent == 'granted' || (consent == 'unknown' && cfg.consent != 'required');
  // classified: the classifier's arrival (or failure), which only completes the touches already in `rec`
  let sync = (classified) => {
    if (!classified) rec = withTouch((allowed() && T(read)) || { c: {} });
    classifyTouches();
    if (allowed()) {
      if (channeled()) store();
      loadPixel();
    } else if (withdrawn) {
      T(() => delete localStorage[KEY]);
      T(cookie, KEY, '', 0);
    }
    fill();
    log(consent, rec);
  };
  // the cookie stays under 4 KB (browsers drop a larger one): strings cut shorter until it fits (only absurd
  // values get cut; then it says so, x, and localStorage keeps them whole). Written once the touches have their
  // channel (or the classifier failed: each cookie write is a call to the browser), or when the page is hidden
  // or left before that: the next page classifies them
  let store = () => {
    let s, n;
    for (n of [2048, 300, 99, 40]) if ((s = encodeURIComponent(JSON.stringify({ ...rec, x: n < 2048 }, (k, v) => (v?.slice ? v.slice(0, n) : v)))).length < 3800) break;
    if (n < 2048) T(() => (localStorage[KEY] = JSON.stringify(rec)));
    T(cookie, KEY, s, days * 86400);
  };
  on(d, 'visibilitychange', () => allowed() && !channeled() && store());
  // initial: a platform's state at load (applied before the first sync, clears nothing); answer: the visitor's own
  let setConsent = (granted, initial, answer) => {
    consent = granted ? 'granted' : 'denied';
    withdrawn = !granted && !initial;
    if (answer) T(cookie, CONSENT_KEY, consent, 4e7);
    if (rec.f) sync(); // after the first sync (which always sets a first touch); before it, that sync applies it
  };
  let gcm = (a) => {
    let state = a?.[0] == 'consent' && a[2]?.ad_storage;
    if (state) setConsent(state == 'granted', a[1] != 'update'); // 'default' is an initial state
  };
  let dl = (w.dataLayer ||= []);
  dl.map(gcm); // an Array, as gtag.js and GTM require
  let push = dl.push;
  dl.push = function (...a) {
    a.map((x) => T(gcm, x));
    return push.apply(this, a);
  };
  // the WP Consent API answers true itself when the site has no consent banner
  if (w.wp_has_consent) setConsent(w.wp_has_consent('marketing'), true);
  on(d, 'wp_listen_for_consent_change', (e) => {
    let state = e.detail.marketing;
    if (state) setConsent(state == 'allow');
  });

  // ---- OpenAI pixel: queue stub, loader only after consent, init exactly once; the measure calls live in
  // the conversions part ----
  let pixelOn;
  let loadPixel = () => {
    if (cfg.pixelId && !pixelOn && allowed()) {
      pixelOn = true;
      let q = (w.oaiq ||= (...a) => (q.q ||= []).push(a));
      q('init', { pixelId: cfg.pixelId, debug: yes(cfg.pixelDebug) });
      load('https://bzrcdn.openai.com/sdk/oaiq.min.js');
    }
  };
  let conversions;
  let convertPart = lazy(CONVERT);
  let converting = (f) => convertPart(() => f((conversions ||= api.conversions(cfg, allowed, loadPixel, log, eventId, scan, ours, found))));

  // ---- hidden fields: a whole touch every time (a field the touch lacks is cleared, so no value can survive
  // from another visit); before consent only the conversion page, without its query string ----
  let values = () => {
    let ok = allowed();
    // not_required: no platform has answered and the mode ("auto") captures without one
    let o = { conversion_page: cut(ok ? loc.href : loc.origin + loc.pathname), consent: ok && consent == 'unknown' ? 'not_required' : consent };
    for (let k of TOUCH) {
      o['first_' + k] = (ok && rec.f?.[k]) || '';
      o['latest_' + k] = (ok && rec.l?.[k]) || '';
    }
    CLICK_IDS.map((k) => (o[k] = (ok && rec.c[k]?.[0]) || ''));
    return o;
  };
  let byName = { __proto__: null }; // the site's field name -> canonical name
  for (let f of [...Object.keys(values()), 'event_id', 'submitted_at']) byName[f] = f;
  list(cfg.fields).map((p) => {
    let [canonical, name] = p.split(':');
    if (name) byName[name] = canonical;
  });
  let typed = new WeakSet(); // fields the visitor typed into: never ours to write
  let ours = new WeakSet(); // forms holding at least one of our fields
  let ids = new WeakMap(); // form -> event_id of its current submission (kept until the plugin says it succeeded)
  let owner = (el) => el.form || el.closest('form,.nf-form-cont') || d.body; // Ninja Forms renders no <form>
  let eventId = (form, id) => {
    if (id || !ids.has(form)) ids.set(form, id || uuid());
    return ids.get(form);
  };
  let FIELDS = 'input,textarea';
  let fieldKey = (el) => {
    let n = el.name;
    let k =
      byName[n] ||
      byName[n.match(/\[(\w+)\]$/)?.[1]] || // Elementor form_fields[x], or a site mapping to item_meta[12]
      byName[el.id] ||
      byName[el.id.replace(/^(field_|form-field-)/, '')] || // Formidable field key, Elementor field id
      byName[el.dataset.attribution];
    // a CSS class on the field or on its one-field wrapper (Gravity Forms, WPForms, Ninja Forms); only a
    // wrapper with one of our classes has its fields counted
    for (let e = el, i = 0; !k && i++ < 5 && e && e.tagName != 'FORM'; e = e.parentElement) {
      for (let c of e.classList) if (byName[c] && e.querySelectorAll(FIELDS).length < 2) k = byName[c];
    }
    return k;
  };
  let writable = (el) => el.type == 'hidden' || (/^text/.test(el.type) && !el.checkVisibility({ visibilityProperty: true }));
  let found = new Map(); // our fields seen so far -> canonical name: refilling them needs no search
  // fill every field found (submitted_at only in the form being submitted)
  let fill = (submitting) => {
    let v;
    for (let [el, k] of found) {
      T(() => {
        if (typed.has(el) || !writable(el)) return;
        let form = owner(el);
        ours.add(form);
        converting(() => {}); // its success signal is the conversion (requested once, then a no-op)
        let x = k == 'event_id' ? eventId(form) : k == 'submitted_at' ? (submitting == form ? now() : null) : (v ||= values())[k];
        if (x != null && el.value != x) {
          el.value = x;
          conversions?.wrote(el); // the input/change events some plugins need (src/convert.js)
        }
      });
    }
  };
  // find our fields in `node` (one pass over its inputs: a field's name decided once) and fill; decorate its
  // booking links and iframes, and note the vendors' widget scripts so that the part is here before their
  // iframes. An added node refills only when it brought a field (the observer's forEach passes its NodeList as
  // `observed`, and an index as `submitting`, which is never a form).
  let scan = (node, submitting, observed) => {
    let n = found.size;
    let at = (sel) => (node.querySelectorAll ? [...(node.matches?.(sel) ? [node] : []), ...node.querySelectorAll(sel)] : []);
    for (let el of at(FIELDS)) {
      let k = /^[ht]/.test(el.type) && fieldKey(el); // hidden, text, textarea (tel, time: never writable)
      if (k) found.set(el, k);
    }
    if (found.size > n || !observed) fill(submitting);
    for (let el of at(BOOKING_SEL)) T(() => isBooking(new URL(el.src || el.href).origin) && toBooking(el));
  };
  on(d, 'input', (e) => e.isTrusted && typed.add(e.target));
  // capture: before the plugins' own handlers read the fields. Counting the lead waits for the plugin's success.
  on(d, 'submit', (e) => scan(e.target, e.target));

  // ---- booking widgets (Calendly, Cal.com): dist/booking.js, loaded on a page that links or embeds one or
  // hears from one, decorates those links and iframes and turns their booking messages into beacons ----
  let isBooking = (origin) => /^https:\/\/([\w-]+\.)*(calendly|cal)\.com$/.test(origin) || list(cfg.calOrigins).includes(origin);
  // what may point to one: one selector for the whole page instead of a look at every link and script (each
  // one with data-cal-origins)
  let BOOKING_SEL = cfg.calOrigins ? 'a,iframe,script' : 'a[href*=cal i],iframe[src*=cal i],script[src*=cal i]';
  let booking = lazy(BOOKING);
  let toBooking = (x) => booking(() => api.booking(x, cfg, log));
  on(w, 'message', (e) => isBooking(e.origin) && toBooking(e));

  // ---- public API; replays what the pre-load stub queued ----
  let commands = {
    // a callback runs once the touches are classified: now, or after the classifier's own callback
    get: (f) => (f && (channeled() ? T : classifier)(() => f(values())), values()),
    consent: (granted) => setConsent(yes(granted), false, true), // true, 'true' or 'granted'
    fill: (node) => scan(node || d),
    debug: (value) => (debug = value),
    // a form's submission succeeded where no supported plugin says so: count it and renew its event_id
    success: (form) => converting((c) => c.success(form)),
    measure: (event, id = uuid()) => (converting((c) => c.measure(event, id)), id),
  };
  let api = (cmd, ...a) => T(commands[cmd], ...a); // an unknown command is a TypeError T swallows
  let queued = w.attribution?.q || [];
  api.loaded = true;
  w.attribution = api;
  // consent answers queued before this script decide what the first fill may carry
  queued.map((a) => a[0] == 'consent' && api(...a));
  // The rest runs as a microtask: still before any other script, event or the page's next parse, but with this
  // function off the stack. Chromium notes where the first cookie read and each request came from, and doing
  // that from here made V8 compute the source positions of this whole function (about 1 ms of the main thread).
  // An inline copy starts at once: a tag manager may insert it and call it in the same task, before a microtask.
  (me.src ? queueMicrotask : T)(() => {
    // a classic post's outcome is on this page. (Opening sessionStorage costs a page about 1 ms: it is read only
    // within 10 minutes of a classic post, while convert.js's cookie says so; cfg tells convert.js.)
    if (T(() => (cfg.pending = jar(PENDING_KEY)) && sessionStorage[PENDING_KEY])) converting(() => {});
    consent ||= T(jar, CONSENT_KEY) || 'unknown'; // the remembered answer, unless one came before it
    T(sync);
    T(scan, d); // finds the fields and fills them
    new MutationObserver((ms) => ms.map((m) => m.addedNodes.forEach(scan))).observe(d, { childList: true, subtree: true });
    queued.map((a) => a[0] != 'consent' && api(...a));
  });
})(window, document, location);
