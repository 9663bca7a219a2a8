/* The sign-in popup's pages. On the way out, follow the link to the provider. On the last
   page, hand the login code (or the problem) to the comment form that opened this window, on
   our own origin only, and close. When the provider cut the link to the opener
   (Cross-Origin-Opener-Policy), the form asks with its verifier instead: a sign-in that worked
   closes after a moment to read it (the person is back on the page, where the form asks), one
   that did not stays, showing why. A window some other site opened stays open too. */
(function () {
  var data = document.getElementById('wg-sign-in').dataset;
  if (data.next) {
    location.replace(data.next);
    return;
  }
  var opener = window.opener;
  var ours = false;
  try {
    ours = !!opener && !opener.closed && opener.location.origin === data.origin;
  } catch (e) { /* another site's page: its location cannot be read */ }
  if (ours) {
    opener.postMessage({ widget: 'sign-in', code: data.code, error: data.error }, data.origin);
    window.close();
  } else if (!opener && data.code) {
    setTimeout(function () { window.close(); }, 1500);
  }
})();
