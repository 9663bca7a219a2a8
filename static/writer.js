// @ts-check
/* The writer's tools, loaded by thread.js at the reader's first touch (at once for a reader
   who is signed in or has comments to edit), so that a reader who only reads never downloads
   them: signing in (the popup and its handoff), passkeys, a signed-in commenter's own data,
   editing and deleting one's comments. thread.js hands over what they share (`Frame`), sends
   the clicks on their buttons here (`clicked`), and opens the window a click needs when this
   script has not arrived yet: a browser lets a click open a window, not a promise. */

/**
 * @typedef {{ stop: (message: string) => void, cancel: () => void }} SignInFlow
 */
(function () {
  'use strict';
  /** @type {Frame} */
  var frame = /** @type {any} */ (window).widgetFrame;
  var doc = frame.doc, config = frame.config, strings = frame.strings, byId = frame.byId;
  var el = frame.el, api = frame.api, keepSession = frame.keepSession, showUser = frame.showUser;
  var loadViewerState = frame.loadViewerState, announce = frame.announce;
  var focusOn = frame.focusOn, serverHtml = frame.serverHtml, articleOf = frame.articleOf;
  var sources = frame.sources, ownWrites = frame.ownWrites, ownToken = frame.ownToken;
  /** @type {SignInFlow | null} the sign-in under way: one at a time */
  var signingIn = null;
  var POPUP = frame.popups.signIn; // the window of a sign-in
  var PASSKEY_POPUP = frame.popups.passkeys; // the window where one's passkeys are

  // -- editing and deleting one's own comments ---------------------------------------------------
  /** @param {HTMLElement} item @param {string | number} id @param {HTMLElement} opener */
  function startEdit(item, id, opener) {
    var text = /** @type {HTMLElement} */ (item.querySelector('.wg-text'));
    if (item.querySelector('.wg-edit-form')) return;
    var box = el('div', 'wg-edit-form');
    var area = el('textarea', 'wg-edit-body');
    area.rows = 5;
    area.value = sources[id] !== undefined ? sources[id] : text.textContent || '';
    area.setAttribute('aria-label', strings.edit);
    var error = el('span', 'wg-error');
    error.id = 'wg-edit-error-' + id;
    area.setAttribute('aria-describedby', error.id);
    var save = el('button', 'wg-save', strings.save);
    var back = el('button', 'wg-cancel', strings.cancel);
    save.type = back.type = 'button';
    box.append(area, error, save, back);
    text.hidden = true;
    text.after(box);
    area.focus({ preventScroll: true });
    function close() {
      box.remove();
      text.hidden = false;
      opener.focus({ preventScroll: true });
    }
    back.addEventListener('click', close);
    save.addEventListener('click', function () {
      save.disabled = true;
      ownWrites['edit' + id] = true; // its live event is no news to this reader
      api('PATCH', 'comments/' + id, { token: ownToken(id), body: area.value }).then(function (r) {
        save.disabled = false;
        if (!r.ok) {
          error.textContent = (r.data.fields && r.data.fields.body) || r.data.error;
          area.setAttribute('aria-invalid', 'true');
          area.focus({ preventScroll: true });
          return;
        }
        sources[id] = area.value;
        text.replaceChildren(serverHtml(r.data.comment.html));
        close();
      });
    });
  }

  /** @param {HTMLElement} item @param {string | number} id */
  function deleteComment(item, id) {
    if (!confirm(strings.confirm_delete)) return;
    ownWrites['delete' + id] = true;
    api('DELETE', 'comments/' + id, { token: ownToken(id), lang: config.lang }).then(function (r) {
      if (!r.ok) { alert(r.data.error || strings.problem); return; }
      var title = byId('comments-title');
      title.textContent = r.data.title_text;
      if (item.querySelector(':scope > ol.wg-children')) {
        articleOf(item).replaceChildren(el('p', 'wg-deleted', strings.deleted));
      } else {
        item.remove();
      }
      // Its buttons are gone with it: focus goes to the thread's heading, not to nowhere.
      focusOn(title);
      announce(strings.deleted);
    });
  }

  // -- signing in -------------------------------------------------------------------------------
  // Passkeys where the browser has WebAuthn: a sign-in choice, and "Add a passkey" once signed
  // in. Both open a popup of ours (static/passkey.js does the rest there).
  var passkeyBox = doc.getElementById('wg-passkeys');
  var passkeyChoice = /** @type {HTMLElement | null} */ (doc.querySelector('button.wg-provider[data-provider=passkey]'));
  if (passkeyChoice && window.PublicKeyCredential) passkeyChoice.hidden = false;
  if (passkeyBox) passkeyBox.hidden = !window.PublicKeyCredential;
  /** @param {Window | null} popup */
  function addPasskey(popup) {
    byId('wg-passkey-error').textContent = '';
    api('POST', 'auth/passkey-owner', {}).then(function (result) {
      if (result.ok) {
        // The popup's pages speak the frame's language.
        postInto(PASSKEY_POPUP, '/auth/passkey/manage',
                 [['owner', result.data.owner], ['lang', config.lang]]);
        return;
      }
      if (popup) popup.close();
      byId('wg-passkey-error').textContent = result.data.error || strings.problem;
    });
  }

  // -- a signed-in commenter's own data: download it, or erase it -------------------------------
  function downloadMine() {
    var ownError = byId('wg-own-error');
    api('POST', 'me/export', {}).then(function (result) {
      if (!result.ok) { ownError.textContent = result.data.error || strings.problem; return; }
      var link = doc.createElement('a');
      link.href = URL.createObjectURL(new Blob([JSON.stringify(result.data, null, 2)],
        { type: 'application/json' }));
      link.download = 'my-comments.json';
      doc.body.appendChild(link);
      link.click();
      link.remove();
    });
  }
  function eraseMine() {
    if (!window.confirm(strings.erase_confirm)) return;
    api('POST', 'me/erase', { confirm: true }).then(function (result) {
      if (!result.ok) { byId('wg-own-error').textContent = result.data.error || strings.problem; return; }
      keepSession(null);
      byId('wg-own-signed-in').textContent = strings.erased;
      location.reload();
    });
  }

  /** @param {ArrayBuffer | Uint8Array} bytes */
  function base64url(bytes) {
    var text = '';
    new Uint8Array(bytes).forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  /** @param {string} message */
  function signInFailed(message) {
    // The reason alone: a sign-in the person cancelled did not fail, and each reason is a
    // sentence of its own.
    byId('wg-sign-in-error').textContent = message;
  }
  // -- the sign-in popup and its handoff (widget/auth/signin.py says why it is built so) ----
  var FLOW_LIFETIME_MS = 10 * 60 * 1000; // as long as the popup's flow lives on the server
  // A provider whose Cross-Origin-Opener-Policy cuts the popup off makes it read as closed as
  // soon as its first page is there; a popup seen open at the provider for longer than this
  // and then closed was closed by the person.
  var CUT_OFF_WITHIN_MS = 2000;
  /** A form posted into a window of ours (a popup opened on the click).
   * @param {string} target @param {string} action @param {string[][]} fields */
  function postInto(target, action, fields) {
    var posted = el('form');
    posted.method = 'post';
    posted.action = action;
    posted.target = target;
    posted.hidden = true;
    fields.forEach(function (pair) {
      var input = el('input');
      input.type = 'hidden';
      input.name = pair[0];
      input.value = pair[1];
      posted.appendChild(input);
    });
    doc.body.appendChild(posted);
    posted.submit();
    posted.remove();
  }
  /** @param {string} provider @param {string} instance
   * @param {Window | null} preopened the window the frame opened on the click, if it did */
  function signIn(provider, instance, preopened) {
    if (signingIn) signingIn.stop('');
    byId('wg-sign-in-error').textContent = '';
    var waiting = byId('wg-sign-in-waiting');
    var verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
    // Opened at once, on the click: browsers let a click open a window, not a promise.
    var popup = preopened || frame.openPopup(POPUP);
    /** @type {ReturnType<typeof setInterval> | undefined} */
    var watchTimer;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    var askTimer;
    var lastAsked = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    var expiry;
    /** @type {SignInFlow} */
    var flow = signingIn = {
      stop: function (message) {
        if (signingIn !== flow) return;
        signingIn = null;
        clearTimeout(expiry);
        clearInterval(watchTimer);
        clearTimeout(askTimer);
        removeEventListener('message', onMessage);
        untilBack(removeEventListener);
        waiting.hidden = true;
        if (message) signInFailed(message);
      },
      cancel: function () {
        flow.stop('');
        if (popup && !popup.closed) popup.close();
      }
    };
    expiry = setTimeout(function () { flow.stop(strings.sign_in_expired); }, FLOW_LIFETIME_MS);
    waiting.hidden = false;
    // The start is a form posted into the popup: only a POST from our own origin starts a
    // sign-in, so no link or foreign page can start one whose verifier someone else holds.
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)).then(function (digest) {
      if (signingIn !== flow) return;
      // The popup's pages speak the frame's language.
      postInto(POPUP, '/auth/' + encodeURIComponent(provider) + '/start',
               [['challenge', base64url(digest)], ['instance', instance || ''], ['lang', config.lang]]);
    });
    /** @param {ApiResult} result */
    function finish(result) {
      if (signingIn !== flow || result.status === 202) return;
      if (!result.ok) { flow.stop(result.data.error || strings.problem); return; }
      flow.stop('');
      if (popup && !popup.closed) popup.close(); // done: its page has nothing more to say
      keepSession(result.data.token);
      showUser(result.data.user);
      loadViewerState();
    }
    // Linked to the popup, its page hands over the login code (or the reason) by message: only
    // our own popup page, on our own origin.
    /** @param {MessageEvent} event */
    function onMessage(event) {
      if (event.origin !== location.origin || event.source !== popup || !event.data ||
          event.data.widget !== 'sign-in') return;
      if (event.data.error) { flow.stop(event.data.error); return; }
      api('POST', 'auth/session', { verifier: verifier, code: event.data.code }).then(finish);
    }
    addEventListener('message', onMessage);
    // Cut off from the popup, the frame asks with its verifier whether the popup has finished
    // (or failed): at once, then whenever the person comes back to the page, never in the
    // background while they are away.
    function ask() { // at most once a second; a question asked sooner waits its turn
      if (signingIn !== flow || askTimer) return;
      askTimer = setTimeout(function () {
        askTimer = undefined;
        if (signingIn !== flow) return;
        lastAsked = Date.now();
        api('POST', 'auth/session', { verifier: verifier }).then(finish, function () {});
      }, Math.max(0, lastAsked + 1000 - Date.now()));
    }
    function onBack() { if (doc.visibilityState === 'visible') ask(); }
    /** @param {(type: string, listener: () => void) => void} listen */
    function untilBack(listen) {
      listen('focus', onBack);
      listen('pointermove', onBack);
      listen('keydown', onBack);
      listen('visibilitychange', onBack);
    }
    function cutOff() {
      untilBack(addEventListener);
      ask();
    }
    if (!popup) { cutOff(); return; } // blocked, or opened by the form without a handle
    var opened = popup;
    // An email's link is opened elsewhere (a mail app, another tab or device) while the popup
    // waits on our own origin: ask whenever the person comes back, as when cut off.
    if (provider === 'email') untilBack(addEventListener);
    var seenAtProviderSince = 0;
    watchTimer = setInterval(function () {
      if (!opened.closed) {
        try {
          void opened.location.href; // readable while on our origin
          seenAtProviderSince = 0;
        } catch (e) {
          seenAtProviderSince = seenAtProviderSince || Date.now();
        }
        return;
      }
      clearInterval(watchTimer);
      if (seenAtProviderSince && Date.now() - seenAtProviderSince > CUT_OFF_WITHIN_MS) {
        // Closed by the person. One last question: it may have finished just before.
        lastAsked = Date.now();
        api('POST', 'auth/session', { verifier: verifier }).then(function (result) {
          if (result.status === 202) flow.stop(strings.sign_in_closed); else finish(result);
        }, function () { flow.stop(strings.sign_in_closed); });
        return;
      }
      cutOff();
    }, 500);
  }
  function cancelSignIn() {
    if (signingIn) signingIn.cancel();
  }
  var instanceProvider = '';
  function signOut() {
    return api('DELETE', 'auth/session', {}).then(function () {
      keepSession(null);
      showUser(null);
      doc.querySelectorAll('.wg-own').forEach(function (node) { node.remove(); });
      loadViewerState();
    });
  }

  /** What a click on one of the writer's buttons does. `popup`: the window the frame opened on
   * that click, when this script was not there yet to open it.
   * @param {Element} button @param {Window | null} popup */
  function clicked(button, popup) {
    if (button.matches('button.wg-provider')) {
      if (button.getAttribute('data-instance')) {
        instanceProvider = button.getAttribute('data-provider') || '';
        byId('wg-instance-box').hidden = false;
        byId('wg-instance').focus();
        return;
      }
      signIn(button.getAttribute('data-provider') || '', '', popup);
      return;
    }
    switch (button.id) {
      case 'wg-instance-go':
        signIn(instanceProvider, /** @type {HTMLInputElement} */ (byId('wg-instance')).value, popup);
        break;
      case 'wg-sign-in-cancel':
        cancelSignIn();
        break;
      case 'wg-log-out':
        signOut();
        break;
      case 'wg-change':
        signOut().then(function () {
          var first = /** @type {HTMLElement | null} */ (doc.querySelector('#wg-sign-in button.wg-provider'));
          if (first) first.focus();
        });
        break;
      case 'wg-add-passkey':
        addPasskey(popup || frame.openPopup(PASSKEY_POPUP));
        break;
      case 'wg-download-mine':
        downloadMine();
        break;
      case 'wg-erase-mine':
        eraseMine();
        break;
    }
  }

  frame.writerLoaded({ clicked: clicked, startEdit: startEdit, deleteComment: deleteComment });
})();
