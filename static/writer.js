// @ts-check
/* The writer's tools, loaded by thread.js at the reader's first touch (at once for a reader
   who is signed in or has comments to edit), so that a reader who only reads never downloads
   them: posting, this reader's own state (their likes, the comments they may still edit, who
   is signed in), signing in (the popup and its handoff), passkeys, a signed-in commenter's own
   data, editing and deleting one's comments. thread.js hands over what they share (`Frame`),
   sends the form's submission (`submit`) and the clicks on their buttons here (`clicked`), and
   opens the window a click needs when this script has not arrived yet: a browser lets a click
   open a window, not a promise. */

/**
 * @typedef {{ stop: (message: string) => void, cancel: () => void }} SignInFlow
 */
(function () {
  'use strict';
  /** @type {Frame} */
  var frame = /** @type {any} */ (window).widgetFrame;
  var doc = frame.doc, config = frame.config, byId = frame.byId;
  /** @type {Record<string, string>} this script's words in the frame's language, put before
   * it by the server (assets.url_with_strings) */
  var strings = /** @type {any} */ (window).widgetStrings;
  var el = frame.el, api = frame.api, withPage = frame.withPage, store = frame.store;
  var keepSession = frame.keepSession, announce = frame.announce, focusOn = frame.focusOn;
  var scrollParentTo = frame.scrollParentTo, serverHtml = frame.serverHtml;
  var articleOf = frame.articleOf, field = frame.field, ownWrites = frame.ownWrites;
  var TOKENS = frame.keys.tokens, VOTER = frame.keys.voter;
  var DETAILS = 'widget:details';
  /** @type {Record<string, string>} the Markdown of comments this reader may edit, by id */
  var sources = {};
  /** @type {SignInFlow | null} the sign-in under way: one at a time */
  var signingIn = null;
  var POPUP = frame.popups.signIn; // the window of a sign-in
  var PASSKEY_POPUP = 'widget-passkeys'; // the window where one's passkeys are

  // -- posting -----------------------------------------------------------------------------------
  var form = /** @type {HTMLFormElement} */ (byId('wg-form'));
  var parentInput = /** @type {HTMLInputElement} */ (byId('wg-parent'));
  var submitButton = /** @type {HTMLButtonElement} */ (byId('wg-submit'));
  var formError = byId('wg-form-error');

  // The details this browser keeps for this reader, in the fields they left empty.
  var details = store.get(DETAILS);
  if (details) {
    ['name', 'email', 'website'].forEach(function (name) {
      if (!field(name).value) field(name).value = details[name] || '';
    });
    field('save').checked = true;
  }

  /** Messages beside the fields they are about (each field's aria-describedby names its
   * message), the fields marked invalid, and focus on the first one; or on the message for
   * the whole form.
   * @param {{ fields?: Record<string, string>, error?: string }} data */
  function showErrors(data) {
    /** @type {HTMLElement | null} */
    var first = null;
    form.querySelectorAll('.wg-error[data-field]').forEach(function (node) {
      var name = node.getAttribute('data-field') || '';
      var message = (data.fields && data.fields[name]) || '';
      node.textContent = message;
      var input = /** @type {HTMLElement | null} */ (form.elements.namedItem(name));
      if (!input || input.getAttribute('type') === 'hidden') {
        if (message && !first) first = formError; // about no field a person can change
        return;
      }
      if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
      if (message && !first) first = input;
    });
    formError.textContent = data.error || '';
    formError.hidden = !data.error;
    if (data.error && !first) first = formError;
    if (first) {
      focusOn(first);
      scrollParentTo(/** @type {HTMLElement} */ (first.closest('p') || first));
    }
  }

  /** The reply form, sent through the API (thread.js took the submission). */
  function submit() {
    var parentId = parentInput.value ? Number(parentInput.value) : null;
    var notify = form.elements.namedItem('notify') ? field('notify').checked : false;
    var notifyPosts = form.elements.namedItem('notify_posts') ? field('notify_posts').checked : false;
    submitButton.disabled = true;
    submitButton.textContent = strings.posting;
    frame.holdNews(true);
    api('POST', 'comments', withPage({
      body: field('body').value, name: field('name').value, email: field('email').value,
      website: field('website').value, notify: notify, notify_posts: notifyPosts,
      parent: parentId,
      form_token: field('form_token').value, homepage: field('homepage').value
    })).then(function (result) {
      if (!result.ok) { showErrors(result.data); return; }
      showErrors({});
      // A form's token posts one comment; the answer brings the token for the next.
      frame.takeFormToken(result.data.form_token, true);
      if (field('save').checked) {
        store.set(DETAILS, { name: field('name').value, email: field('email').value, website: field('website').value });
      } else {
        store.remove(DETAILS);
      }
      var tokens = store.get(TOKENS) || {};
      tokens[result.data.comment.id] = result.data.edit_token;
      store.set(TOKENS, tokens);
      field('body').value = '';
      // The form goes home first: moved after the scroll, it would push the new comment away.
      frame.resetReply();
      insertComment(result.data, parentId);
    }, function () {
      showErrors({ error: strings.problem });
    }).then(function () {
      submitButton.disabled = false;
      submitButton.textContent = strings.post_comment;
      frame.holdNews(false);
    });
  }

  /** @param {string} html @param {number | null} parentId */
  function placeComment(html, parentId) {
    var parentItem = parentId ? doc.getElementById('comment-' + parentId) : null;
    if (parentItem) {
      var children = parentItem.querySelector(':scope > ol.wg-children');
      if (!children) { children = el('ol', 'wg-children'); parentItem.appendChild(children); }
      children.appendChild(serverHtml(html));
      return;
    }
    var list = /** @type {HTMLElement} */ (doc.querySelector('ol.wg-comments'));
    var node = serverHtml(html);
    if (config.order === 'newest') list.prepend(node); else list.appendChild(node);
  }
  /** The reader's own new comment: in place, in view, highlighted a moment, focused and
   * announced. @param {any} data the API's answer @param {number | null} parentId */
  function insertComment(data, parentId) {
    placeComment(data.html, parentId && data.comment.parent);
    byId('comments-title').textContent = data.title_text;
    var item = byId('comment-' + data.comment.id);
    frame.describeTimes(item);
    frame.enableLikes(item);
    addOwnControls(item, data.comment.id, null);
    item.classList.add('wg-new');
    setTimeout(function () { item.classList.remove('wg-new'); }, 4000);
    focusOn(articleOf(item));
    scrollParentTo(item);
    // Held, the comment says so itself ("awaiting moderation"): that is what is announced.
    var held = item.querySelector('.wg-held');
    announce(held ? held.textContent || '' : strings.comment_posted);
  }

  // -- this browser's own state: likes, comments it may still edit, who is signed in --------------
  /** @param {HTMLElement | null} item @param {string | number} id @param {string | null} source */
  function addOwnControls(item, id, source) {
    if (!item || item.querySelector('.wg-own')) return;
    var own = item;
    if (source !== null) sources[id] = source;
    var actions = item.querySelector(':scope > article > footer');
    if (!actions) return; // held for a moderator: nothing to do with it yet
    var edit = el('button', 'wg-own wg-edit', strings.edit);
    var remove = el('button', 'wg-own wg-delete', strings.delete);
    edit.type = remove.type = 'button';
    edit.addEventListener('click', function () { startEdit(own, id, edit); });
    remove.addEventListener('click', function () { deleteComment(own, id); });
    actions.append(edit, remove);
  }
  /** @param {string | number} id @returns {string | undefined} */
  function ownToken(id) {
    return (store.get(TOKENS) || {})[id];
  }
  /** Asks who is reading (and a form token of their own) and shows what is theirs. */
  function loadViewerState() {
    var tokens = store.get(TOKENS) || {};
    var tokenList = Object.keys(tokens).map(function (k) { return tokens[k]; });
    var asked = frame.session();
    api('POST', 'me', withPage({ voter: store.get(VOTER) || '', edit_tokens: tokenList }))
      .then(function (result) {
        // A sign-in that ended meanwhile asks again: this answer is about the reader before.
        if (!result.ok || asked !== frame.session()) return;
        frame.takeFormToken(result.data.form_token);
        if (!result.data.user && asked) keepSession(null); // ended elsewhere, or expired
        showUser(result.data.user);
        result.data.liked.forEach(/** @param {number} id */ function (id) {
          var item = doc.getElementById('comment-' + Number(id));
          if (item) frame.markLiked(item.querySelector('button.wg-like'), true);
        });
        if (result.data.post_liked) frame.markLiked(doc.querySelector('button.wg-post-like'), true);
        result.data.held.forEach(/** @param {{id: number, html: string, parent: number | null}} held */ function (held) {
          // own comments awaiting a moderator
          if (!doc.getElementById('comment-' + held.id)) placeComment(held.html, held.parent);
        });
        Object.keys(result.data.editable).forEach(function (id) {
          addOwnControls(doc.getElementById('comment-' + Number(id)), id,
            result.data.editable[id].body);
        });
      });
  }

  var signInBox = doc.getElementById('wg-sign-in');
  var ownSignedIn = doc.getElementById('wg-own-signed-in');
  /** @param {{ name: string, avatar?: string, provider_name: string } | null} user */
  function showUser(user) {
    if (!signInBox) return; // no providers: nobody signs in here
    signInBox.hidden = !!user;
    byId('wg-signed-in').hidden = !user;
    byId('wg-guest').hidden = byId('wg-guest-fields').hidden = !!user || config.signInRequired;
    if (ownSignedIn) ownSignedIn.hidden = !user;
    if (!user) return;
    var avatar = /** @type {HTMLImageElement} */ (byId('wg-user-avatar'));
    avatar.hidden = !user.avatar;
    if (user.avatar) avatar.src = user.avatar;
    byId('wg-user-name').textContent = user.name;
    byId('wg-user-text').textContent = strings.commenting_as.replace('{provider}', user.provider_name);
  }

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
    // The page's title, for the heading the answer brings ("2 Responses to “Title”").
    var body = { token: ownToken(id), lang: config.lang, title: config.params.title || '' };
    api('DELETE', 'comments/' + id, body).then(function (r) {
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
  // Passkeys where the server offers them and the browser has WebAuthn: a sign-in choice, and
  // "Add a passkey" once signed in. Both open a popup of ours (static/passkey.js does the rest
  // there). Drawn here: the document of every reader, most of whom never sign in, need not
  // carry them.
  if (config.passkeys && window.PublicKeyCredential) {
    var passkeyChoice = el('button', 'wg-provider');
    passkeyChoice.type = 'button';
    passkeyChoice.setAttribute('data-provider', 'passkey');
    var passkeyIcon = el('span', 'wg-provider-icon wg-icon-passkey', 'P');
    passkeyIcon.setAttribute('aria-hidden', 'true');
    passkeyChoice.append(passkeyIcon, strings.sign_in_passkey);
    /** @type {HTMLElement} */ (byId('wg-sign-in').querySelector('.wg-providers')).append(passkeyChoice);
    var addButton = el('button', '', strings.add_passkey);
    addButton.type = 'button';
    addButton.id = 'wg-add-passkey';
    var passkeyError = el('span', 'wg-error');
    passkeyError.id = 'wg-passkey-error';
    passkeyError.setAttribute('role', 'alert');
    var passkeyBox = el('p', 'wg-notes');
    passkeyBox.append(addButton, ' ', passkeyError);
    byId('wg-signed-in').append(passkeyBox);
  }
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
    var heard = false; // the popup's page has handed over (and then closes itself)
    // Linked to the popup, its page hands over the login code (or the reason) by message: only
    // our own popup page, on our own origin.
    /** @param {MessageEvent} event */
    function onMessage(event) {
      if (event.origin !== location.origin || event.source !== popup || !event.data ||
          event.data.widget !== 'sign-in') return;
      heard = true;
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
      if (heard) return; // it closed itself, its code on the way
      // A passkey's popup never leaves our origin, so nothing cuts it off: closed, it was
      // closed by the person, as a provider's popup seen there a while.
      if (provider === 'passkey' ||
          seenAtProviderSince && Date.now() - seenAtProviderSince > CUT_OFF_WITHIN_MS) {
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

  frame.writerLoaded({ clicked: clicked, submit: submit, loadViewerState: loadViewerState });
  loadViewerState();
})();
