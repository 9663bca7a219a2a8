/* The sign-in popup's last page: hand the login code (or the problem) to the comment form
   that opened this window, on our own origin only. When the provider cut the link to the
   opener (Cross-Origin-Opener-Policy), the form is polling with its verifier: nothing to do. */
(function () {
  var data = document.getElementById('wg-sign-in').dataset;
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage({ widget: 'sign-in', code: data.code, error: data.error }, data.origin);
    window.close();
  }
})();
