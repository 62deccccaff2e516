// Conversions, built to dist/convert.js. attribution.js loads it on a page with a form holding one of our
// fields, on the page that follows a form posted the classic way, and for attribution('measure' | 'success').
//
// A lead counts when the form plugin says the submission succeeded, never on the click: an attempt the plugin
// rejects (validation, spam, a required field the browser or the plugin's script stops) fires nothing and
// keeps its event_id, so the corrected attempt posts the id the pixel is then told. After a success the form
// gets a fresh event_id: its next submission is another lead.
//
// The success signals, as each plugin's published front-end script sends them:
//   Contact Form 7   `wpcf7mailsent`, a DOM event on the form
//   Fluent Forms     `fluentform_submission_success`, a DOM event on document (detail.form)
//   Formidable       `frmFormComplete`, a jQuery event on document (form, response); AJAX forms only
//   Gravity Forms    `gform_confirmation_loaded`, a jQuery event on document (form id); AJAX forms only
//   WPForms          `wpformsAjaxSubmitSuccess`, a jQuery event on the form; AJAX forms only
//   Elementor Pro    `submit_success`, a jQuery event on the form
//   Ninja Forms      `submit:response` on Backbone.Radio's "forms" channel (response, status, xhr, form id),
//                    a success when the response holds no errors
// A form posted the classic way (Formidable's default, Gravity Forms or WPForms without AJAX, a plain form)
// leaves the page instead (seen as a submit nobody prevented, or, for a plugin that validates and then calls
// form.submit(), through the Navigation API): its event_id waits in sessionStorage and the next page decides. A page showing a
// form plugin's validation or spam error keeps the id for the retry; any other page (the plugin's message, a
// thank-you redirect) counts it, once.
import { PENDING_KEY, uuid } from './shared.js';

((w, d, api) => {
  let ERRORS = [
    '.wpcf7-form.invalid,.wpcf7-form.spam,.wpcf7-form.failed,.wpcf7-not-valid', // Contact Form 7
    '.frm_error_style,.frm_error', // Formidable (its spam message too)
    '.gform_validation_errors,.validation_error', // Gravity Forms
    '.wpforms-error-container,.wpforms-error', // WPForms
    '[data-attribution-error]', // any form: the site marks its own error message
  ].join();
  let PENDING_FOR = 6e5; // ms: a classic post's answer is the very next page, well within 10 minutes

  api.conversions = (cfg, allowed, loadPixel, log, eventId, scan, ours, found) => {
    let T = (f, ...a) => {
      try {
        return f(...a);
      } catch (e) {}
    };
    let safe = (f) => (...a) => T(f, ...a);
    let on = (target, type, f, capture) => target.addEventListener(type, safe(f), capture);

    let measure = (event, event_id) => {
      if (!cfg.pixelId || !allowed() || event == 'none') return;
      loadPixel();
      // the event's data type; any other name goes out as a custom event
      let data = { event_id };
      let type = /^(lead_created|registration_completed|appointment_scheduled)$/.test(event)
        ? 'customer_action'
        : /^(subscription_created|trial_started)$/.test(event)
          ? 'plan_enrollment'
          : '';
      if (!type) {
        data.custom_event_name = event.replace(/^custom:/, '');
        event = type = 'custom';
      }
      w.oaiq('measure', event, { type }, data);
      log(event, event_id);
    };

    let eventName = (form) => form.dataset?.attributionEvent || cfg.pixelEvent || 'lead_created';
    let counts = (form) => form && (ours.has(form) || form.dataset?.attributionEvent);
    let success = (form) => {
      if (!counts(form)) return;
      measure(eventName(form), eventId(form));
      eventId(form, uuid());
      scan(form);
    };
    // what finds the same form on the page a classic post returns to
    let formKey = (form) => form.id || form.getAttribute('action') || '';

    let submitted = []; // forms submitted on this page: Gravity Forms names only the form's id on success
    on(d, 'submit', (e) => submitted.push(e.target), true);
    // Ninja Forms submits from a plain button with its own click handler: no submit event
    on(
      d,
      'click',
      (e) => {
        let form = e.target.closest('.submit-container [type=button]')?.closest('.nf-form-cont');
        if (form) scan(form, form);
      },
      true,
    );
    // a classic post of one of our forms: its outcome is the next page's to judge
    let leaving = (form) => {
      if (!counts(form) || !allowed() || !/^(|_self)$/.test(form.target)) return; // a frame: Gravity Forms' AJAX
      sessionStorage[PENDING_KEY] = JSON.stringify({ id: eventId(form), event: eventName(form), form: formKey(form), at: Date.now() });
      d.cookie = PENDING_KEY + '=1;path=/;samesite=lax;max-age=' + PENDING_FOR / 1e3; // meanwhile attribution.js opens sessionStorage
    };
    // after every other handler: a submit nobody prevented leaves the page
    on(w, 'submit', (e) => {
      if (!e.defaultPrevented) leaving(e.target);
    });
    // a plugin that validates first prevents the submit, then calls form.submit(), which fires no event
    // (Formidable, WPForms and Gravity Forms without AJAX): the Navigation API, where the browser has it,
    // still sees the form's navigation
    if (w.navigation) {
      on(w.navigation, 'navigate', (e) => {
        let form = e.sourceElement || submitted.at(-1);
        if (form?.tagName == 'FORM' && (e.formData || e.sourceElement)) leaving(form);
      });
    }

    on(d, 'wpcf7mailsent', (e) => success(e.target));
    on(d, 'fluentform_submission_success', (e) => success(e.detail.form));
    // jQuery and Backbone events never reach DOM listeners; both libraries load before this part, or by 'load'
    let listened = {};
    let listen = () => {
      let $ = w.jQuery;
      if ($ && !listened.$) {
        listened.$ = $(d)
          .on('frmFormComplete', safe((e, form) => success(form)))
          .on('gform_confirmation_loaded', safe((e, id) => success(submitted.find((f) => f.id == 'gform_' + id))))
          .on('wpformsAjaxSubmitSuccess submit_success', safe((e) => success(e.target)));
      }
      let forms = w.Backbone?.Radio?.channel('forms');
      if (forms && !listened.nf) {
        listened.nf = forms.on(
          'submit:response',
          safe((response, status, xhr, id) => {
            if (!Object.keys(response.errors || {}).length) success(d.getElementById(`nf-form-${id}-cont`));
          }),
        );
      }
    };
    listen();
    on(w, 'load', listen);

    // the page a classic post led to
    // (sessionStorage only within PENDING_FOR of a classic post from any tab, while the cookie attribution.js read
    // says so: opening it is the costly part)
    let pending = T(() => cfg.pending && JSON.parse(sessionStorage[PENDING_KEY]));
    if (pending) T(() => sessionStorage.removeItem(PENDING_KEY));
    if (pending && Date.now() - pending.at < PENDING_FOR) {
      if (d.querySelector(ERRORS)) {
        // rejected: the corrected attempt keeps the id
        for (let form of d.querySelectorAll('form')) {
          if (formKey(form) == pending.form) {
            eventId(form, pending.id);
            scan(form);
          }
        }
      } else {
        measure(pending.event, pending.id);
      }
    }
    // Ninja Forms' Backbone models and the conditional logic of Gravity Forms, Fluent Forms and Formidable learn a
    // value only from input/change events: fired for each field attribution.js writes in their forms (for the
    // ones it wrote before this part arrived, now); the other plugins read the fields when the form is sent
    let wrote = (el) => {
      if (el.closest('.nf-form-cont,[id^=gform_],.frm-fluent-form,.frm-show-form')) {
        for (let t of ['input', 'change']) el.dispatchEvent(new Event(t, { bubbles: true }));
      }
    };
    for (let [el] of found) T(wrote, el);
    return { measure, success, wrote };
  };
})(window, document, window.attribution);
