/*! connector attribution | MIT */
// Design goals, checked by build.mjs and the tests: at most 3,072 bytes gzipped (so: terse code, comments
// carry the reasons); never throw into the host page; never build HTML from values (attacker-controlled
// strings: only .value, .href, .src and JSON); nothing persisted and no pixel before consent where consent is
// required; fill only hidden or invisible fields the visitor has not typed into, matched exactly. (`let` even
// where nothing is reassigned: terser keeps declarations as written, and `const` costs two bytes more.)
// build.mjs hands the data file over compactly: [param, channel, ai_source?] click rules, the sources as one
// "channel ai_source host|host utm|utm;..." string expanded below, the *_re values as regex literals.
import {
  click_ids as CLICK_RULES,
  weak_click_ids as WEAK_RULES,
  sources,
  openai_ads_utm_sources as ADS_SOURCES,
  email_re as EMAIL,
  paid_medium_re as PAID,
  paid_social_medium_re as PAID_SOCIAL,
  medium_channels,
} from '../../connector/data/classification.json';

((w, d, loc) => {
  if (w.attribution?.loaded) return; // loaded twice (plugin + manual tag): the first one works alone
  let UTM = 'source medium campaign content term id'.split(' ').map((k) => 'utm_' + k);
  let CLICK = [...CLICK_RULES, ...WEAK_RULES].map((r) => r[0]); // oppref gclid ... fbclid
  let KEY = '_attr'; // localStorage key and cookie name
  let NONE = 'none';
  let EVENT_ID = 'event_id';
  let META = `metadata[${EVENT_ID}]`;
  let T = (f, ...a) => {
    try {
      return f(...a);
    } catch (e) {}
  };
  let on = (target, type, f) => target.addEventListener(type, (e) => T(f, e), 1); // capture phase
  let list = (v) => (v || '').split(/[\s,]+/);
  let noWww = (h) => h.replace(/^www\./, '');

  // ---- configuration: <script data-pixel-id=...> (dataset), overridden by window.attributionConfig ----
  let cfg = { ...d.currentScript?.dataset, ...w.attributionConfig };
  let flag = (v) => /^(1|true)$/.test(v);
  let debug = flag(cfg.debug);
  let log = (...a) => debug && console.log('[attribution]', ...a);
  let days = cfg.days || 90; // first/latest touch and click ids (Google Ads' longest click window)

  let now = () => new Date().toISOString();
  let cut = (v, n = 2048) => String(v).slice(0, n); // as the server keeps (connector.attribution.MAX_FIELD_LENGTH)
  let lower = (v) => (v || '').trim().toLowerCase();
  let uuid = () => crypto.randomUUID?.() || URL.createObjectURL(new Blob()).slice(-36); // insecure-origin fallback
  // JSON with strings cut shorter until the text fits `max` as measured by `size`; ids are never cut
  let fit = (o, max, size) => {
    let s;
    for (let n of [2048, 300, 99, 40]) {
      s = JSON.stringify(o, (k, v) => (v?.slice && !/^(event_id|uid|\w+_uri)$/.test(k) ? v.slice(0, n) : v));
      if (size(s) < max) break;
    }
    return s;
  };

  // ---- classification: connector/classify.py's algorithm on the same data file (see its _utm notes) ----
  let SOURCES = sources.split(';').map((s) => (
    (s = s.split(' ')),
    [RegExp('(^|\\.)(' + s[2].replace(/\./g, '\\.').replace(/\\\.\*/g, '\\.[a-z]{2,3}(\\.[a-z]{2})?') + ')$'), s[0], s[1], s[3].split('|')]
  ));
  let source = (v, byHost) => SOURCES.find((r) => (byHost ? r[0].test(v) : v && r[3].includes(v))) || (byHost ? [] : source(v, 1));
  let classify = (p, ref) => {
    let click = (rules) => (rules = rules.find((r) => p[r[0]])) && [rules[1], rules[2] || NONE];
    let src = lower(p.utm_source);
    let med = lower(p.utm_medium);
    let paid = PAID.test(med);
    let [, ch, ai] = source(src);
    let h = '';
    ref && T(() => (h = new URL(ref).hostname.replace(/\.$/, '')));
    let a = '.' + noWww(h);
    let b = '.' + noWww(loc.hostname);
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
                      : (medium_channels.find((m) => m[0].test(med)) || [, 'other'])[1],
              NONE,
            ]
        : click(WEAK_RULES)) ||
      // a referrer from this site (www. ignored, subdomains included) is an internal visit: direct
      // (host rules are tried only for a referrer that needs them: every RegExp costs time on its first use)
      (!h || a.endsWith(b) || b.endsWith(a) ? ['direct', NONE] : [(h = source(h, 1))[1] || 'referral', h[2] || NONE])
    );
  };

  // ---- this page's touch, kept in memory until consent allows storing it ----
  // (The usual first visit throws nothing: a page's first exception costs about 1 ms in Chromium.)
  // the first non-empty value of each parameter (one RegExp for all: every RegExp costs start-up time)
  let params = {};
  for (let [, k, v] of loc.search.matchAll(/[?&]([^&=]+)=([^&]+)/g)) {
    // click ids are opaque: kept exactly as in the URL (oppref byte for byte); UTMs are decoded
    UTM.includes(k) && T(() => (v = decodeURIComponent(v.replace(/\+/g, ' '))));
    params[k] ||= cut(v);
  }
  let [channel, ai_source] = classify(params, d.referrer);
  let touch = { landing_page: cut(loc.href), referrer: cut(d.referrer), channel, ai_source, touch_at: now() };
  UTM.map((k) => (touch[k] = params[k])); // absent ones stay undefined: JSON leaves them out
  let TOUCH = Object.keys(touch);

  // ---- persistence: localStorage + a root-domain cookie mirror (subdomains, storage cleared by Safari) ----
  let fresh = (t, n = days) => Date.now() - Date.parse(t) < n * 864e5;
  let pick = (x, y, later) => (!x || (y && y.touch_at > x.touch_at == later) ? y : x);
  let read = () => {
    let r = { c: {} };
    for (let g of [
      T(() => JSON.parse(decodeURIComponent(d.cookie.match('(^|; )' + KEY + '=([^;]*)')?.[2] || 0))),
      T(() => JSON.parse(localStorage[KEY] || 0)),
    ]) {
      if (g?.c) {
        r.f = pick(r.f, g.f, 0); // the older first touch
        r.l = pick(r.l, g.l, 1); // the newer latest touch
        Object.assign(r.c, g.c);
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
    (channel != 'direct' || !r.l) && (r.l = touch);
    return r;
  };
  let cookie = (v, age) =>
    (d.cookie = KEY + '=' + v + ';path=/;samesite=lax;max-age=' + age + (cfg.rootDomain ? ';domain=' + cfg.rootDomain : '') + (loc.protocol == 'https:' ? ';secure' : ''));

  // ---- consent: WP Consent API, Google Consent Mode (ad_storage), attribution('consent', bool) ----
  let consent = 'unknown';
  let withdrawn; // a "no" after load clears what we stored; initial states never clear
  let rec = { c: {} };
  let allowed = () => consent == 'granted' || (consent == 'unknown' && cfg.consent == 'optional');
  let sync = () => {
    rec = withTouch((allowed() && T(read)) || { c: {} });
    if (allowed()) {
      T(() => (localStorage[KEY] = JSON.stringify(rec)));
      T(cookie, encodeURIComponent(fit(rec, 3800, (s) => encodeURIComponent(s).length)), days * 86400);
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
  [].map.call(dl, (a) => gcm(a, 1));
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
      d.head.append(Object.assign(d.createElement('script'), { async: 1, src: 'https://bzrcdn.openai.com/sdk/oaiq.min.js' }));
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
    let latest = rec.l || touch;
    let sel = FIELDS + ',a,iframe';
    for (let el of node.querySelectorAll ? [node, ...node.querySelectorAll(sel)].filter((e) => e.matches?.(sel)) : []) {
      T(() => {
        if (/^(A|IFRAME)$/.test(el.tagName)) {
          // booking widgets: the latest UTMs, and for Cal.com our event_id, which it returns in metadata
          let a = el.src ? 'src' : 'href';
          let u = new URL(el[a] || 'a:'); // <a> without href, iframe without src: no exception
          let cal = isCal(u.origin);
          let q = u.searchParams;
          if (cal || isVendor(u.origin, 'calendly')) {
            UTM.map((k) => latest[k] && !q.has(k) && q.set(k, latest[k]));
            cal && !q.has(META) && q.set(META, bookingId);
            u.href != el[a] && (el[a] = u.href);
          }
          return;
        }
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

  // ---- booking widgets: bookings back out, linked to a fresh event_id by a beacon ----
  let isVendor = (origin, name) => RegExp(`^https://([\\w-]+\\.)*${name}\\.com$`).test(origin);
  let isCal = (origin) => isVendor(origin, 'cal') || list(cfg.calOrigins).includes(origin);
  let bookingId = uuid(); // put into Cal.com embeds as metadata[event_id]; used by the first Cal.com booking
  let bookingIdUsed = 0;
  let booked = (provider, booking) => {
    let event_id = provider == 'cal_com' && !bookingIdUsed++ ? bookingId : uuid();
    let attribution = values();
    measure('appointment_scheduled', event_id);
    attribution.event_id = event_id;
    for (let k in attribution) attribution[k] || delete attribution[k];
    let body = { v: 1, type: 'booking', event_id, provider, booking, attribution, page: loc.href, ts: now() };
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
    let m = e.data;
    let o = e.origin;
    isVendor(o, 'calendly') &&
      m.event == 'calendly.event_scheduled' &&
      booked('calendly', { invitee_uri: cut(m.payload.invitee.uri, 300), event_uri: cut(m.payload.event.uri, 300) });
    isCal(o) && m.originator == 'CAL' && m.type == 'bookingSuccessfulV2' && booked('cal_com', { uid: cut(m.data.uid, 300) });
  });

  // ---- public API; replays what the pre-load stub queued ----
  let api = (cmd, a) =>
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
  let queued = w.attribution?.q || [];
  api.loaded = 1;
  w.attribution = api;
  T(sync);
  T(() => new MutationObserver((ms) => ms.map((m) => m.addedNodes.forEach((n) => scan(n)))).observe(d.documentElement, { childList: 1, subtree: 1 }));
  queued.map((a) => api(...a));
})(window, document, location);
