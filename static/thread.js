/* The iframe's script: progressive enhancement of a page that works without it.
   Data goes into the page with textContent only. The one exception is comment HTML rendered and
   sanitised by the server (rendering.py), which is parsed as HTML from our own responses. */
(function () {
  'use strict';
  var doc = document;
  var root = doc.documentElement;

  function reportHeight() {
    var height = Math.ceil(root.getBoundingClientRect().height);
    if (parent !== window) parent.postMessage({ widget: 'height', height: height }, '*');
  }
  if (window.ResizeObserver) new ResizeObserver(reportHeight).observe(root);
  addEventListener('load', reportHeight);
  reportHeight();
  // The frame is always as tall as its content, so its own scroll position must stay at the
  // top; focusing a field or a restored scroll position after a reload would otherwise hide
  // the top of the thread. Scrolling happens in the host page instead (scrollParentTo).
  if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
  addEventListener('scroll', function () { if (scrollY) scrollTo(0, 0); });

  var configNode = doc.getElementById('wg-config');
  if (!configNode) return; // an error page: it only needs its height reported
  var config = JSON.parse(configNode.textContent);
  var strings = config.strings;

  // Storage that survives browsers refusing it (third-party storage blocked): memory then.
  var memory = {};
  var store = {
    get: function (key) {
      try { var v = localStorage.getItem(key); if (v !== null) return JSON.parse(v); } catch (e) { /* blocked */ }
      return memory[key];
    },
    set: function (key, value) {
      memory[key] = value;
      try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* blocked */ }
    },
    remove: function (key) {
      delete memory[key];
      try { localStorage.removeItem(key); } catch (e) { /* blocked */ }
    }
  };
  var TOKENS = 'widget:edit:' + config.site;
  var VOTER = 'widget:voter';
  var DETAILS = 'widget:details';

  // The session: a Partitioned cookie where the browser keeps one, and always the same token
  // in memory (and sessionStorage when allowed) for browsers that refuse even those cookies.
  var SESSION = 'widget:session';
  var sessionToken = null;
  try { sessionToken = sessionStorage.getItem(SESSION); } catch (e) { /* blocked */ }
  // Whether this browser has a session: the cookie is HttpOnly, so the script keeps a note
  // of it (nothing secret) to know that the page must ask who is reading.
  var SIGNED_IN = 'widget:signed-in';
  function keepSession(token) {
    sessionToken = token;
    if (token) store.set(SIGNED_IN, true); else store.remove(SIGNED_IN);
    try {
      if (token) sessionStorage.setItem(SESSION, token); else sessionStorage.removeItem(SESSION);
    } catch (e) { /* blocked: memory only */ }
  }

  function api(method, path, body) {
    var headers = { 'Content-Type': 'application/json' };
    if (sessionToken) headers.Authorization = 'Bearer ' + sessionToken;
    return fetch('/api/v1/' + path, {
      method: method,
      headers: headers,
      body: JSON.stringify(body),
      credentials: 'same-origin'
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }
  function withPage(extra) {
    var body = { site: config.site };
    Object.keys(config.params).forEach(function (k) { body[k] = config.params[k]; });
    Object.keys(extra).forEach(function (k) { body[k] = extra[k]; });
    return body;
  }
  // Parsed through a <template>: nodes made this way are inert (a script among them would
  // never run), unlike Range.createContextualFragment's.
  function serverHtml(html) {
    var template = doc.createElement('template');
    template.innerHTML = html;
    return template.content;
  }
  function el(tag, className, text) {
    var node = doc.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }
  // Runs `action` once, at the reader's first sign of life in the frame.
  var TOUCHES = ['pointerdown', 'keydown', 'focusin', 'wheel', 'touchstart'];
  function onFirstTouch(action) {
    function once() {
      TOUCHES.forEach(function (kind) { removeEventListener(kind, once, true); });
      action();
    }
    TOUCHES.forEach(function (kind) { addEventListener(kind, once, true); });
  }
  function scrollParentTo(node) {
    var top = node.getBoundingClientRect().top + scrollY;
    if (parent !== window) parent.postMessage({ widget: 'scroll', top: top }, '*');
    else node.scrollIntoView();
  }

  // -- dates: "3 minutes ago", the exact time in the tooltip ---------------------------------
  var relative = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(config.lang, { numeric: 'auto' }) : null;
  var UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400],
    ['hour', 3600], ['minute', 60], ['second', 1]];
  function describeTimes(scope) {
    if (!relative) return;
    scope.querySelectorAll('time[datetime]').forEach(function (node) {
      var when = new Date(node.getAttribute('datetime'));
      var seconds = (when - new Date()) / 1000;
      for (var i = 0; i < UNITS.length; i++) {
        if (Math.abs(seconds) >= UNITS[i][1] || i === UNITS.length - 1) {
          node.textContent = relative.format(Math.round(seconds / UNITS[i][1]), UNITS[i][0]);
          break;
        }
      }
      node.title = when.toLocaleString(config.lang);
    });
  }
  describeTimes(doc);
  setInterval(function () { describeTimes(doc); }, 60000);

  // -- the reply form --------------------------------------------------------------------------
  var form = doc.getElementById('wg-form');
  var respond = doc.getElementById('respond');
  var home = respond.parentNode, homeNext = respond.nextSibling;
  var parentInput = doc.getElementById('wg-parent');
  var cancel = doc.getElementById('cancel-reply');
  var replyTitle = doc.getElementById('reply-title-text');
  var submit = doc.getElementById('wg-submit');
  var formError = doc.getElementById('wg-form-error');

  function commentId(item) {
    return Number(item.id.replace('comment-', ''));
  }
  function replyTo(link) {
    var item = link.closest('.wg-comment');
    item.querySelector(':scope > article').after(respond);
    parentInput.value = commentId(item);
    replyTitle.textContent = strings.leave_reply_to.replace(
      '{name}', item.querySelector(':scope > article > header > cite').textContent);
    cancel.hidden = false;
    form.elements.body.focus({ preventScroll: true });
    scrollParentTo(respond);
  }
  function resetReply() {
    home.insertBefore(respond, homeNext);
    parentInput.value = '';
    replyTitle.textContent = strings.leave_reply;
    cancel.hidden = true;
  }
  doc.addEventListener('click', function (event) {
    var link = event.target.closest('a.wg-reply');
    if (link) { event.preventDefault(); replyTo(link); }
  });
  cancel.addEventListener('click', function (event) { event.preventDefault(); resetReply(); });

  var details = store.get(DETAILS);
  if (details) {
    ['name', 'email', 'website'].forEach(function (f) {
      if (!form.elements[f].value) form.elements[f].value = details[f] || '';
    });
    form.elements.save.checked = true;
  }

  // The document is the same bytes for all its readers, so its form token is shared: the first
  // token of this reader's own (from the live stream or the viewer call) replaces it; after
  // that, each post's answer brings the next.
  var ownFormToken = false;
  function takeFormToken(token) {
    if (token && !ownFormToken) { form.elements.form_token.value = token; ownFormToken = true; }
  }

  function showErrors(data) {
    form.querySelectorAll('.wg-error').forEach(function (node) {
      node.textContent = (data.fields && data.fields[node.getAttribute('data-field')]) || '';
    });
    formError.textContent = data.error || '';
    formError.hidden = !data.error;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var f = form.elements;
    var parentId = f.parent.value ? Number(f.parent.value) : null;
    submit.disabled = true;
    submit.textContent = strings.posting;
    posting += 1;
    api('POST', 'comments', withPage({
      body: f.body.value, name: f.name.value, email: f.email.value, website: f.website.value,
      notify: !!(f.notify && f.notify.checked), parent: parentId, form_token: f.form_token.value,
      homepage: f.homepage.value
    })).then(function (result) {
      if (!result.ok) { showErrors(result.data); return; }
      showErrors({});
      // A form's token posts one comment; the answer brings the token for the next.
      f.form_token.value = result.data.form_token;
      ownFormToken = true;
      if (f.save.checked) {
        store.set(DETAILS, { name: f.name.value, email: f.email.value, website: f.website.value });
      } else {
        store.remove(DETAILS);
      }
      var tokens = store.get(TOKENS) || {};
      tokens[result.data.comment.id] = result.data.edit_token;
      store.set(TOKENS, tokens);
      insertComment(result.data, parentId);
      f.body.value = '';
      resetReply();
    }, function () {
      showErrors({ error: strings.problem });
    }).then(function () {
      submit.disabled = false;
      submit.textContent = strings.post_comment;
      posting -= 1;
      var waiting = deferred;
      deferred = [];
      waiting.forEach(noticeComment);
    });
  });

  function placeComment(html, parentId) {
    var parentItem = parentId && doc.getElementById('comment-' + parentId);
    if (parentItem) {
      var children = parentItem.querySelector(':scope > ol.wg-children');
      if (!children) { children = el('ol', 'wg-children'); parentItem.appendChild(children); }
      children.appendChild(serverHtml(html));
      return;
    }
    var list = doc.querySelector('ol.wg-comments');
    var node = serverHtml(html);
    if (config.order === 'newest') list.prepend(node); else list.appendChild(node);
  }
  function insertComment(data, parentId) {
    placeComment(data.html, parentId && data.comment.parent);
    doc.getElementById('comments-title').textContent = data.title_text;
    var item = doc.getElementById('comment-' + data.comment.id);
    describeTimes(item);
    enableLikes(item);
    addOwnControls(item, data.comment.id, null);
    scrollParentTo(item);
  }

  // -- likes -------------------------------------------------------------------------------------
  // Like buttons need this script (and its voter id), so the script adds them.
  function enableLikes(scope) {
    scope.querySelectorAll('.wg-like-count').forEach(function (count) {
      var button = el('button', 'wg-like', strings.like);
      button.type = 'button';
      button.setAttribute('aria-pressed', 'false');
      count.before(button);
    });
    var postLike = doc.querySelector('button.wg-post-like');
    if (postLike) postLike.hidden = false;
  }
  function markLiked(button, liked) {
    button.setAttribute('aria-pressed', liked ? 'true' : 'false');
    button.textContent = liked ? strings.liked : strings.like;
  }
  doc.addEventListener('click', function (event) {
    var button = event.target.closest('button.wg-like');
    // The second click of a double click (detail 2) and clicks while a request is out do
    // nothing: a double click is one like, not a like taken back.
    if (!button || event.detail > 1 || button.getAttribute('data-busy')) return;
    button.setAttribute('data-busy', '1');
    var item = button.closest('.wg-comment');
    var liked = button.getAttribute('aria-pressed') !== 'true';
    api('POST', 'likes', withPage({
      comment: item ? commentId(item) : null, liked: liked, voter: store.get(VOTER) || ''
    })).then(function (result) {
      if (!result.ok) return;
      store.set(VOTER, result.data.voter);
      markLiked(button, result.data.liked);
      var count = button.parentNode.querySelector('.wg-like-count, .wg-post-like-count');
      count.textContent = result.data.text;
      likeVersions[item ? commentId(item) : 'post'] = result.data.version;
    }).then(function () { button.removeAttribute('data-busy'); });
  });
  enableLikes(doc.querySelector('.wg-comments'));

  // -- this browser's own state: likes, and comments it may still edit -----------------------------
  var sources = {};
  function addOwnControls(item, id, source) {
    if (!item || item.querySelector('.wg-own')) return;
    if (source !== null) sources[id] = source;
    var actions = item.querySelector(':scope > article > footer');
    if (!actions) return; // held for a moderator: nothing to do with it yet
    var edit = el('button', 'wg-own wg-edit', strings.edit);
    var remove = el('button', 'wg-own wg-delete', strings.delete);
    edit.type = remove.type = 'button';
    edit.addEventListener('click', function () { startEdit(item, id); });
    remove.addEventListener('click', function () { deleteComment(item, id); });
    actions.append(edit, remove);
  }
  function ownToken(id) {
    return (store.get(TOKENS) || {})[id];
  }
  function loadViewerState() {
    var tokens = store.get(TOKENS) || {};
    var tokenList = Object.keys(tokens).map(function (k) { return tokens[k]; });
    var asked = sessionToken;
    api('POST', 'me', withPage({ voter: store.get(VOTER) || '', edit_tokens: tokenList }))
      .then(function (result) {
        // A sign-in that ended meanwhile asks again: this answer is about the reader before.
        if (!result.ok || asked !== sessionToken) return;
        takeFormToken(result.data.form_token);
        if (!result.data.user && sessionToken) keepSession(null); // ended elsewhere, or expired
        showUser(result.data.user);
        result.data.liked.forEach(function (id) {
          var item = doc.getElementById('comment-' + Number(id));
          if (item) markLiked(item.querySelector('button.wg-like'), true);
        });
        if (result.data.post_liked) markLiked(doc.querySelector('button.wg-post-like'), true);
        result.data.held.forEach(function (held) { // own comments awaiting a moderator
          if (!doc.getElementById('comment-' + held.id)) placeComment(held.html, held.parent);
        });
        Object.keys(result.data.editable).forEach(function (id) {
          addOwnControls(doc.getElementById('comment-' + Number(id)), id,
            result.data.editable[id].body);
        });
      });
  }
  // A reader with nothing of their own here (no comments, likes or session) costs no request:
  // the page is the same for everyone, and is revalidated with one 304. Their state (and a
  // form token of their own) is asked for as soon as they do something on the page.
  var stored = store.get(TOKENS);
  if (sessionToken || store.get(SIGNED_IN) || store.get(VOTER) ||
      doc.cookie.indexOf('__Host-widget_signed_in=1') !== -1 ||
      (stored && Object.keys(stored).length)) {
    loadViewerState();
  } else {
    onFirstTouch(loadViewerState);
  }

  function startEdit(item, id) {
    var text = item.querySelector('.wg-text');
    if (item.querySelector('.wg-edit-form')) return;
    var box = el('div', 'wg-edit-form');
    var area = el('textarea', 'wg-edit-body');
    area.rows = 5;
    area.value = sources[id] !== undefined ? sources[id] : text.textContent;
    var error = el('span', 'wg-error');
    var save = el('button', 'wg-save', strings.save);
    var back = el('button', 'wg-cancel', strings.cancel);
    save.type = back.type = 'button';
    box.append(area, error, save, back);
    text.hidden = true;
    text.after(box);
    area.focus();
    back.addEventListener('click', function () { box.remove(); text.hidden = false; });
    save.addEventListener('click', function () {
      save.disabled = true;
      ownWrites['edit' + id] = true; // its live event is no news to this reader
      api('PATCH', 'comments/' + id, { token: ownToken(id), body: area.value }).then(function (r) {
        save.disabled = false;
        if (!r.ok) { error.textContent = (r.data.fields && r.data.fields.body) || r.data.error; return; }
        sources[id] = area.value;
        text.replaceChildren(serverHtml(r.data.comment.html));
        box.remove();
        text.hidden = false;
      });
    });
  }

  function deleteComment(item, id) {
    if (!confirm(strings.confirm_delete)) return;
    ownWrites['delete' + id] = true;
    api('DELETE', 'comments/' + id, { token: ownToken(id), lang: config.lang }).then(function (r) {
      if (!r.ok) { alert(r.data.error || strings.problem); return; }
      doc.getElementById('comments-title').textContent = r.data.title_text;
      if (item.querySelector(':scope > ol.wg-children')) {
        item.querySelector(':scope > article').replaceChildren(el('p', 'wg-deleted', strings.deleted));
      } else {
        item.remove();
      }
    });
  }

  // -- signing in ---------------------------------------------------------------------------------
  var signInBox = doc.getElementById('wg-sign-in');
  var signedInBox = doc.getElementById('wg-signed-in');
  var guestNote = doc.getElementById('wg-guest');
  var guestFields = doc.getElementById('wg-guest-fields');
  var needsScript = doc.getElementById('wg-needs-script');
  if (needsScript) needsScript.hidden = true;
  if (signInBox) signInBox.hidden = false;

  var ownSignedIn = doc.getElementById('wg-own-signed-in');
  var ownError = doc.getElementById('wg-own-error');
  function showOwnData(user) { if (ownSignedIn) ownSignedIn.hidden = !user; }

  function showUser(user) {
    if (!signInBox) return;
    var signedIn = !!user;
    signInBox.hidden = signedIn;
    signedInBox.hidden = !signedIn;
    guestNote.hidden = guestFields.hidden = signedIn || config.signInRequired;
    showOwnData(user);
    if (!signedIn) return;
    var avatar = doc.getElementById('wg-user-avatar');
    avatar.hidden = !user.avatar;
    if (user.avatar) avatar.src = user.avatar;
    doc.getElementById('wg-user-text').textContent =
      strings.commenting_as.replace('{provider}', user.provider_name);
  }

  // -- a signed-in commenter's own data: download it, or erase it -------------------------------
  if (ownSignedIn) {
    doc.getElementById('wg-download-mine').addEventListener('click', function () {
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
    });
    doc.getElementById('wg-erase-mine').addEventListener('click', function () {
      if (!window.confirm(strings.erase_confirm)) return;
      api('POST', 'me/erase', { confirm: true }).then(function (result) {
        if (!result.ok) { ownError.textContent = result.data.error || strings.problem; return; }
        keepSession(null);
        ownSignedIn.textContent = strings.erased;
        location.reload();
      });
    });
  }

  function base64url(bytes) {
    var text = '';
    new Uint8Array(bytes).forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function signInFailed(message) {
    doc.getElementById('wg-sign-in-error').textContent = strings.sign_in_failed + ' ' + message;
  }
  // -- the sign-in popup and its handoff (widget/auth/signin.py says why it is built so) ----
  var signingIn = null; // the sign-in under way: one at a time
  var POPUP = 'widget-sign-in';
  var FLOW_LIFETIME_MS = 10 * 60 * 1000; // as long as the popup's flow lives on the server
  // A provider whose Cross-Origin-Opener-Policy cuts the popup off makes it read as closed as
  // soon as its first page is there; a popup seen open at the provider for longer than this
  // and then closed was closed by the person.
  var CUT_OFF_WITHIN_MS = 2000;
  function signIn(provider, instance) {
    if (signingIn) signingIn.stop('');
    doc.getElementById('wg-sign-in-error').textContent = '';
    var waiting = doc.getElementById('wg-sign-in-waiting');
    var verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
    // Opened at once, on the click: browsers let a click open a window, not a promise.
    var popup = window.open('', POPUP, 'width=520,height=700');
    var watchTimer = 0, askTimer = 0, lastAsked = 0;
    var expiry = setTimeout(function () { flow.stop(strings.sign_in_expired); }, FLOW_LIFETIME_MS);
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
    waiting.hidden = false;
    // The start is a form posted into the popup: only a POST from our own origin starts a
    // sign-in, so no link or foreign page can start one whose verifier someone else holds.
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)).then(function (digest) {
      if (signingIn !== flow) return;
      var start = el('form');
      start.method = 'post';
      start.action = '/auth/' + encodeURIComponent(provider) + '/start';
      start.target = POPUP;
      start.hidden = true;
      [['challenge', base64url(digest)], ['instance', instance || '']].forEach(function (pair) {
        var input = el('input');
        input.type = 'hidden';
        input.name = pair[0];
        input.value = pair[1];
        start.appendChild(input);
      });
      doc.body.appendChild(start);
      start.submit();
      start.remove();
    });
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
        askTimer = 0;
        if (signingIn !== flow) return;
        lastAsked = Date.now();
        api('POST', 'auth/session', { verifier: verifier }).then(finish, function () {});
      }, Math.max(0, lastAsked + 1000 - Date.now()));
    }
    function onBack() { if (doc.visibilityState === 'visible') ask(); }
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
    // An email's link is opened elsewhere (a mail app, another tab or device) while the popup
    // waits on our own origin: ask whenever the person comes back, as when cut off.
    if (provider === 'email') untilBack(addEventListener);
    var seenAtProviderSince = 0;
    watchTimer = setInterval(function () {
      if (!popup.closed) {
        try {
          void popup.location.href; // readable while on our origin
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
  if (signInBox) {
    var instanceBox = doc.getElementById('wg-instance-box');
    var instanceProvider = null;
    signInBox.addEventListener('click', function (event) {
      var button = event.target.closest('button.wg-provider');
      if (!button) return;
      if (button.getAttribute('data-instance')) {
        instanceProvider = button.getAttribute('data-provider');
        instanceBox.hidden = false;
        doc.getElementById('wg-instance').focus();
        return;
      }
      signIn(button.getAttribute('data-provider'), '');
    });
    doc.getElementById('wg-sign-in-cancel').addEventListener('click', cancelSignIn);
    doc.getElementById('wg-instance-go').addEventListener('click', function () {
      signIn(instanceProvider, doc.getElementById('wg-instance').value);
    });
    function signOut() {
      return api('DELETE', 'auth/session', {}).then(function () {
        keepSession(null);
        showUser(null);
        doc.querySelectorAll('.wg-own').forEach(function (node) { node.remove(); });
        loadViewerState();
      });
    }
    doc.getElementById('wg-log-out').addEventListener('click', signOut);
    doc.getElementById('wg-change').addEventListener('click', function () {
      signOut().then(function () {
        var first = signInBox.querySelector('button.wg-provider');
        if (first) first.focus();
      });
    });
  }

  // -- live updates ------------------------------------------------------------------------------
  // New comments and edits wait behind a button ("Show 2 new comments"): nothing moves under
  // the reader's eyes. Like counts change in place.
  var pendingComments = {};
  var pendingChanges = false;
  var posting = 0;
  var deferred = []; // comment events that arrived while this reader's own post was on its way
  var ownWrites = {};
  var likeVersions = {}; // the thread version each like count shown comes from
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(config.lang) : null;

  function pluralText(forms, n) {
    var category = n === 0 && 'zero' in forms ? 'zero' : plural ? plural.select(n) : (n === 1 ? 'one' : 'other');
    return (forms[category] || forms.other || forms.many).replace('{n}', n);
  }
  var banner = el('p', 'wg-live');
  var bannerButton = el('button', 'wg-live-button');
  bannerButton.type = 'button';
  banner.appendChild(bannerButton);
  banner.hidden = true;
  function showBanner() {
    var count = Object.keys(pendingComments).length;
    bannerButton.textContent = count ? pluralText(config.plurals.new_comments, count) : strings.new_activity;
    banner.hidden = !(count || pendingChanges);
    var title = doc.getElementById('comments-title');
    if (title && banner.previousSibling !== title) title.after(banner);
  }
  function noticeComment(data) {
    if (posting) { deferred.push(data); return; }
    if (doc.getElementById('comment-' + data.comment)) return; // this reader's own
    pendingComments[data.comment] = true;
    showBanner();
  }
  bannerButton.addEventListener('click', function () {
    resetReply();
    fetch('/embed/' + encodeURIComponent(config.site) + '/thread/fragment?' +
      new URLSearchParams(config.params)).then(function (response) {
      return response.ok ? response.text() : Promise.reject(response.status);
    }).then(function (html) {
      var fresh = serverHtml(html).querySelector('#comments');
      var old = doc.getElementById('comments');
      old.replaceWith(fresh);
      pendingComments = {};
      pendingChanges = false;
      showBanner();
      describeTimes(fresh);
      enableLikes(fresh.querySelector('.wg-comments'));
      loadViewerState();
    }, function () { showBanner(); });
  });
  // The live stream is for readers who stay: it opens once the frame has been in sight for a
  // while, or at the reader's first touch, so a glance at a page holds no connection (nor one
  // of the server's live-reader places). What changed before it opened shows as news.
  var LIVE_AFTER_MS = 10000;
  var live = false;
  function goLive() {
    if (live || !window.EventSource) return;
    live = true;
    openEvents();
  }
  onFirstTouch(goLive);
  function whenVisible() {
    if (doc.visibilityState !== 'hidden') setTimeout(goLive, LIVE_AFTER_MS);
    else doc.addEventListener('visibilitychange', whenVisible, { once: true });
  }
  whenVisible();
  function openEvents() {
    var events = new EventSource('/api/v1/events?' +
      new URLSearchParams({ site: config.site, page: config.params.page }));
    var greeted = false;
    events.addEventListener('hello', function (e) {
      var data = JSON.parse(e.data);
      root.setAttribute('data-live', 'on');
      takeFormToken(data.form_token);
      var shown = doc.getElementById('comments');
      if (!greeted && shown && data.version > Number(shown.getAttribute('data-version'))) {
        pendingChanges = true;
        showBanner();
      }
      greeted = true;
    });
    events.addEventListener('comment', function (e) { noticeComment(JSON.parse(e.data)); });
    ['edit', 'delete'].forEach(function (kind) {
      events.addEventListener(kind, function (e) {
        var data = JSON.parse(e.data);
        if (ownWrites[kind + data.comment] || !doc.getElementById('comment-' + data.comment)) return;
        pendingChanges = true;
        showBanner();
      });
    });
    events.addEventListener('like', function (e) {
      var data = JSON.parse(e.data);
      // A late event must not undo a newer answer (this reader's own click, say).
      var key = data.comment || 'post';
      if (likeVersions[key] >= data.version) return;
      likeVersions[key] = data.version;
      var item = data.comment ? doc.getElementById('comment-' + data.comment) : null;
      var count = data.comment
        ? item && item.querySelector('.wg-like-count')
        : doc.querySelector('.wg-post-like-count');
      if (count) {
        count.textContent = pluralText(config.plurals[data.comment ? 'likes' : 'post_likes'], data.count);
      }
    });
    events.addEventListener('reset', function () { pendingChanges = true; showBanner(); });
  }

  // Opened from a link to one comment (#comment-12): bring it into view in the host page.
  if (/^#comment-\d+$/.test(location.hash)) {
    var target = doc.getElementById(location.hash.slice(1));
    if (target) addEventListener('load', function () { scrollParentTo(target); });
  }
})();
