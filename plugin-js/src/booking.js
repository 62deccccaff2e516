// Calendly and Cal.com, built to dist/booking.js. attribution.js loads it only on a page that links to, embeds
// or loads a widget script from one of them, or receives a message from one, and hands it each such element
// and each such message together with its configuration and logger. Out: the latest UTMs (and for Cal.com our event_id, which it
// returns in the booking's metadata) on links and embeds, and on Calendly inline widgets' data-url before
// Calendly's script builds their iframe. Back: on the widget's booking message, the pixel's
// appointment_scheduled and a beacon to {endpoint}/collect linking that event_id to the booking.
import { uuid } from './shared.js';

((w, api) => {
  let META = 'metadata[event_id]';
  let cut = (v) => String(v).slice(0, 300);
  let vendor = (origin, name) => RegExp(`^https://([\\w-]+\\.)*${name}\\.com$`).test(origin);
  let bookingId = uuid(); // put into Cal.com embeds as metadata[event_id]; used by the first Cal.com booking
  let bookingIdUsed = 0;

  let booked = (provider, booking, cfg, log) => {
    let event_id = provider == 'cal_com' && !bookingIdUsed++ ? bookingId : uuid();
    let attribution = api('get');
    api('measure', 'appointment_scheduled', event_id);
    attribution.event_id = event_id;
    for (let k in attribution) attribution[k] || delete attribution[k];
    let body = { v: 1, type: 'booking', event_id, provider, booking, attribution, page: location.href, ts: new Date().toISOString() };
    // at most 4 KB, as /collect accepts: strings cut shorter until it fits; ids are never cut
    let json;
    for (let n of [2048, 300, 99, 40]) {
      json = JSON.stringify(body, (k, v) => (v?.slice && !/^(event_id|uid|\w+_uri)$/.test(k) ? v.slice(0, n) : v));
      if (new Blob([json]).size < 4000) break;
    }
    log(body);
    // text/plain + keepalive: no CORS preflight, survives navigation; the connector's optional visitor cookie
    // goes along (credentials); errors never reach the page
    cfg.endpoint &&
      fetch(cfg.endpoint.replace(/\/$/, '') + '/collect', {
        method: 'POST',
        keepalive: true,
        credentials: 'include',
        body: json,
        headers: { 'Content-Type': 'text/plain' },
      }).catch(log);
  };

  // what a booking page is given: the latest UTMs (and for Cal.com our event_id), each only where the page
  // has no value of its own (has / set: a URL's searchParams, or a Cal.com embed's config object)
  let decorate = (has, set, isCal) => {
    let latest = api('get');
    for (let k of 'source medium campaign content term id'.split(' ')) {
      let v = latest['latest_utm_' + k];
      if (v && !has('utm_' + k)) set('utm_' + k, v);
    }
    if (isCal && !has(META)) set(META, bookingId);
  };
  let decorated = (url, isCal) => {
    let u = new URL(url);
    let q = u.searchParams;
    decorate((k) => q.has(k), (k, v) => q.set(k, v), isCal(u.origin));
    return u.href;
  };
  // Cal.com's snippet queues its instructions (Cal.q, and Cal.ns[name].q per namespace) until embed.js has
  // loaded; an embed's config is passed to its iframe as query parameters, so a config decorated while it is
  // queued gives an iframe that loads once, already decorated.
  let decorateCalQueue = () => {
    let cal = w.Cal;
    for (let queue of [cal?.q, ...Object.values(cal?.ns || {}).map((ns) => ns.q)]) {
      for (let [instruction, options] of queue || []) {
        if (/^(inline|modal|floatingButton)$/.test(instruction) && options) {
          let config = (options.config ||= {});
          decorate((k) => k in config, (k, v) => (config[k] = v), true);
        }
      }
    }
  };

  // x: a link or iframe to decorate, a vendor's widget script, or a message event from a booking origin
  api.booking = (x, cfg, log) => {
    let isCal = (origin) => vendor(origin, 'cal') || (cfg.calOrigins || '').split(/[\s,]+/).includes(origin);
    let m = x.data;
    let o = x.origin;
    if (x.tagName == 'SCRIPT') {
      // the vendors' widget scripts build their iframes from what the page gave them: decorated now, the
      // iframe loads once, already carrying the UTMs (an iframe decorated after it started loads twice).
      // Calendly: the inline widget's data-url; Cal.com: its queued embeds' config.
      for (let widget of document.querySelectorAll('.calendly-inline-widget[data-url]')) {
        let url = decorated(widget.dataset.url, isCal);
        if (url != widget.dataset.url) widget.dataset.url = url;
      }
      decorateCalQueue();
      // Cal.com's click-to-open embeds read their config from data-cal-config when clicked
      for (let el of document.querySelectorAll('[data-cal-link]')) {
        try {
          let config = JSON.parse(el.dataset.calConfig || '{}');
          decorate((k) => k in config, (k, v) => (config[k] = v), true);
          el.dataset.calConfig = JSON.stringify(config);
        } catch (e) {} // the site's own config is not JSON: left as it is
      }
    } else if (x.tagName) {
      let a = x.src ? 'src' : 'href';
      let url = decorated(x[a], isCal);
      if (url != x[a]) x[a] = url;
    } else if (vendor(o, 'calendly') && m.event == 'calendly.event_scheduled') {
      booked('calendly', { invitee_uri: cut(m.payload.invitee.uri), event_uri: cut(m.payload.event.uri) }, cfg, log);
    } else if (isCal(o) && m.originator == 'CAL' && m.type == 'bookingSuccessfulV2') {
      booked('cal_com', { uid: cut(m.data.uid) }, cfg, log);
    }
  };
})(window, window.attribution);
