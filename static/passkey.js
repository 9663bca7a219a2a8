/* The passkey popup's pages (widget/views/passkeys.py): ask the browser for a passkey, with
   the options the server put in the page, and post what the authenticator answered as JSON
   (the shape of PublicKeyCredential.toJSON(), written out for browsers without it). Signing in
   asks at once: the frame's button was the first click, the authenticator is the second. What
   it may have to say, the page gives it in its language (data-no-passkeys, data-held-already,
   data-none-used). */
(function () {
  var box = document.getElementById('wg-passkey');
  var form = /** @type {HTMLFormElement | null} */ (document.getElementById('wg-passkey-form'));
  var error = document.getElementById('wg-passkey-error');
  if (!box || !form || !error) return;
  var page = box;
  var sending = form;
  var problem = error;
  if (!window.PublicKeyCredential || !navigator.credentials) {
    problem.textContent = page.dataset.noPasskeys || '';
    sending.hidden = true;
    return;
  }
  var options = JSON.parse(page.dataset.options || '{}');
  var go = /** @type {HTMLButtonElement} */ (document.getElementById('wg-passkey-go'));
  go.disabled = false; // ready to ask the browser

  /** @param {string} encoded */
  function bytes(encoded) {
    var binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'));
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  /** @param {ArrayBuffer | null} buffer */
  function text(buffer) {
    if (!buffer) return null;
    var binary = '';
    new Uint8Array(buffer).forEach(function (b) { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  /** @param {Array<{id: string, type: string}> | undefined} list */
  function descriptors(list) {
    return (list || []).map(function (d) { return { id: bytes(d.id), type: d.type }; });
  }
  /** @param {any} credential */
  function send(credential) {
    var r = credential.response;
    var response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = text(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = text(r.authenticatorData);
      response.signature = text(r.signature);
      response.userHandle = text(r.userHandle);
    }
    sending.elements.namedItem('credential').value = JSON.stringify({
      id: credential.id, rawId: text(credential.rawId), type: credential.type,
      response: response, clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null
    });
    sending.submit();
  }
  /** @param {any} reason */
  function failed(reason) {
    problem.textContent = (reason && reason.name === 'InvalidStateError'
      ? page.dataset.heldAlready : page.dataset.noneUsed) || '';
  }
  function ask() {
    problem.textContent = '';
    var request;
    if (page.dataset.step === 'sign-in') {
      request = navigator.credentials.get({ publicKey: {
        challenge: bytes(options.challenge), rpId: options.rpId, timeout: options.timeout,
        userVerification: options.userVerification, allowCredentials: descriptors(options.allowCredentials)
      } });
    } else {
      request = navigator.credentials.create({ publicKey: {
        challenge: bytes(options.challenge), rp: options.rp, timeout: options.timeout,
        user: { id: bytes(options.user.id), name: options.user.name, displayName: options.user.displayName },
        pubKeyCredParams: options.pubKeyCredParams, attestation: options.attestation,
        authenticatorSelection: options.authenticatorSelection,
        excludeCredentials: descriptors(options.excludeCredentials)
      } });
    }
    request.then(send, failed);
  }
  sending.addEventListener('submit', function (event) {
    if (sending.elements.namedItem('credential').value) return; // what send() posts
    event.preventDefault();
    ask();
  });
  if (page.dataset.step === 'sign-in') ask();
})();
