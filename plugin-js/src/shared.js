// Small pieces attribution.js and its parts share; esbuild copies each into the files that import it.

// sessionStorage: the event_id of a form posted the classic way, for the page it leads to (src/convert.js);
// localStorage: until when a page looks for one there (opening sessionStorage costs a page about 1 ms)
export let PENDING_KEY = '_attr_pending';

// a random UUID; crypto.randomUUID exists only in secure contexts, so an http page takes a blob URL's
export let uuid = () => crypto.randomUUID?.() || URL.createObjectURL(new Blob()).slice(-36);

// is the referrer host `host` this site, the page's host `here`? (www. ignored, subdomains included either way;
// attribution.js's direct-visit shortcut and the classifier must agree on it)
export let internal = (host, here) => {
  let a = '.' + host.replace(/^www\./, '');
  let b = '.' + here.replace(/^www\./, '');
  return a.endsWith(b) || b.endsWith(a);
};
