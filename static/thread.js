// @ts-check
/* The iframe's script: progressive enhancement of a page that works without it.
   Data goes into the page with textContent only. The one exception is comment HTML rendered and
   sanitised by the server (rendering.py), which is parsed as HTML from our own responses.
   TypeScript checks it from its JSDoc types and eslint lints it (scripts/test); no build step. */

/**
 * @typedef {{ ok: boolean, status: number, data: any }} ApiResult
 * @typedef {{ site: string, params: Record<string, string>, strings: Record<string, string>,
 *   plurals: Record<string, Record<string, string>>, lang: string, order: string,
 *   signInRequired: boolean, writer: string, passkeys?: boolean }} Config
 * @typedef {{ clicked: (button: Element, popup: Window | null) => void, submit: () => void,
 *   loadViewerState: () => void }} Writer
 * @typedef {{ get: (key: string) => any, set: (key: string, value: any) => void,
 *   remove: (key: string) => void }} Store
 * @typedef {{ doc: Document, config: Config, byId: (id: string) => HTMLElement,
 *   el: <K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string) => HTMLElementTagNameMap[K],
 *   api: (method: string, path: string, body: object) => Promise<ApiResult>,
 *   withPage: (extra: Record<string, any>) => Record<string, any>, store: Store,
 *   keys: { tokens: string, voter: string }, session: () => string | null,
 *   keepSession: (token: string | null) => void, announce: (text: string) => void,
 *   focusOn: (node: HTMLElement) => void, scrollParentTo: (node: Element) => void,
 *   serverHtml: (html: string) => DocumentFragment, articleOf: (item: Element) => HTMLElement,
 *   describeTimes: (scope: ParentNode) => void, enableLikes: (scope: ParentNode) => void,
 *   markLiked: (button: Element | null, liked: boolean) => void,
 *   field: (name: string) => HTMLInputElement, resetReply: () => void,
 *   takeFormToken: (token: string | undefined, ours?: boolean) => void,
 *   holdNews: (held: boolean) => void,
 *   ownWrites: Record<string, boolean>,
 *   popups: { signIn: string }, openPopup: (name: string) => Window | null,
 *   writerLoaded: (writer: Writer) => void }} Frame
 */
(function () {
  'use strict';
  var doc = document;
  var root = doc.documentElement;
  // Only the script keeps the frame as tall as its content; without it the frame scrolls.
  root.classList.add('wg-js');

  /** An element the document always has. @param {string} id @returns {HTMLElement} */
  function byId(id) {
    return /** @type {HTMLElement} */ (doc.getElementById(id));
  }

  // The host page's script names the frame after this document's title, which is in the
  // frame's language: the script itself has room for no words of any language.
  function reportHeight() {
    var height = Math.ceil(root.getBoundingClientRect().height);
    var title = doc.title;
    if (parent !== window) parent.postMessage({ widget: 'height', height: height, title: title }, '*');
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
  /** @type {Config} */
  var config = JSON.parse(configNode.textContent || '{}');
  var strings = config.strings;

  // -- state shared by the parts below ------------------------------------------------------------
  var posting = false; // an own post on its way: live events for comments wait until it is back
  /** @type {any[]} comment events that arrived while this reader's own post was on its way */
  var deferred = [];
  /** @type {Record<string, boolean>} this reader's own edits and deletions: no news to them */
  var ownWrites = {};
  /** @type {Record<string, number>} the thread version each like count shown comes from */
  var likeVersions = {};
  /** @type {Record<string, boolean>} new comments behind the "Show N new comments" button */
  var pendingComments = {};
  var pendingChanges = false;
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(config.lang) : null;
  // Numbers as the frame's language writes them ("1 234" in French), as the server does (CLDR);
  // Latin digits, as the server's Arabic and CLDR's "ar" have them, whatever a browser's data.
  var digits = new Intl.NumberFormat(config.lang, { numberingSystem: 'latn' });

  // -- announcements: one polite live region, outside the parts that are replaced -------------
  var status = byId('wg-status');
  /** @param {string} text */
  function announce(text) {
    // Emptied first, filled a moment later: the same words twice are announced twice.
    status.textContent = '';
    setTimeout(function () { status.textContent = text; }, 50);
  }
  /** @param {Record<string, string>} forms @param {number} n */
  function pluralText(forms, n) {
    var category = n === 0 && 'zero' in forms ? 'zero' : plural ? plural.select(n) : (n === 1 ? 'one' : 'other');
    return (forms[category] || forms.other || forms.many).replace('{n}', digits.format(n));
  }

  // Storage that survives browsers refusing it (third-party storage blocked): memory then.
  /** @type {Record<string, any>} */
  var memory = {};
  var store = {
    /** @param {string} key @returns {any} */
    get: function (key) {
      try { var v = localStorage.getItem(key); if (v !== null) return JSON.parse(v); } catch (e) { /* blocked */ }
      return memory[key];
    },
    /** @param {string} key @param {any} value */
    set: function (key, value) {
      memory[key] = value;
      try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { keepAtHost(key, value); }
    },
    /** @param {string} key */
    remove: function (key) {
      delete memory[key];
      try { localStorage.removeItem(key); } catch (e) { keepAtHost(key, null); }
    }
  };
  var TOKENS = 'widget:edit:' + config.site;
  var VOTER = 'widget:voter';

  // Where the browser refuses this frame storage of its own (third-party storage blocked, as
  // in Chrome's private windows), the blog's page keeps two things for it (embed.js): the
  // tokens of the reader's own comments, to edit them and to see them while a moderator holds
  // them, and the voter id of their likes. Nothing that names the reader: their name and email
  // stay in memory. The page's answer to 'kept?' says where to send them: its origin.
  /** @type {Record<string, string>} what each kept value is */
  var HOST_KEPT = {};
  HOST_KEPT[TOKENS] = 'object';
  HOST_KEPT[VOTER] = 'string';
  /** @type {string | null} */
  var hostOrigin = null;
  /** @param {string} key @param {any} value */
  function keepAtHost(key, value) {
    if (hostOrigin && key in HOST_KEPT) {
      parent.postMessage({ widget: 'keep', key: key, value: value }, hostOrigin);
    }
  }
  /** What the blog's page kept for this frame, into memory; `then` once the page answered, or
   * has not in time (an embed.js from before this). @param {() => void} then */
  function fromHost(then) {
    var done = false;
    function finish() { if (!done) { done = true; then(); } }
    addEventListener('message', function (e) {
      var m = e.data;
      if (e.source !== parent || !m || m.widget !== 'kept' || hostOrigin) return;
      hostOrigin = e.origin;
      Object.keys(HOST_KEPT).forEach(function (key) {
        var value = m.values && m.values[key];
        if (typeof value === HOST_KEPT[key] && value && !(key in memory)) memory[key] = value;
      });
      finish();
    });
    parent.postMessage({ widget: 'kept?' }, '*');
    setTimeout(finish, 1000);
  }
  var storageRefused = false;
  try { localStorage.getItem(VOTER); } catch (e) { storageRefused = true; }

  // The session: a Partitioned cookie where the browser keeps one, and always the same token
  // in memory (and sessionStorage when allowed) for browsers that refuse even those cookies.
  var SESSION = 'widget:session';
  /** @type {string | null} */
  var sessionToken = null;
  try { sessionToken = sessionStorage.getItem(SESSION); } catch (e) { /* blocked */ }
  // Whether this browser has a session: the cookie is HttpOnly, so the script keeps a note
  // of it (nothing secret) to know that the page must ask who is reading.
  var SIGNED_IN = 'widget:signed-in';
  /** @param {string | null} token */
  function keepSession(token) {
    sessionToken = token;
    if (token) store.set(SIGNED_IN, true); else store.remove(SIGNED_IN);
    try {
      if (token) sessionStorage.setItem(SESSION, token); else sessionStorage.removeItem(SESSION);
    } catch (e) { /* blocked: memory only */ }
  }

  /** @param {string} method @param {string} path @param {object} body @returns {Promise<ApiResult>} */
  function api(method, path, body) {
    // Errors come back in the frame's language.
    /** @type {Record<string, string>} */
    var headers = { 'Content-Type': 'application/json', 'Accept-Language': config.lang };
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
  /** @param {Record<string, any>} extra @returns {Record<string, any>} */
  function withPage(extra) {
    /** @type {Record<string, any>} */
    var body = { site: config.site };
    Object.keys(config.params).forEach(function (k) { body[k] = config.params[k]; });
    Object.keys(extra).forEach(function (k) { body[k] = extra[k]; });
    return body;
  }
  // Parsed through a <template>: nodes made this way are inert (a script among them would
  // never run), unlike Range.createContextualFragment's.
  /** @param {string} html */
  function serverHtml(html) {
    var template = doc.createElement('template');
    template.innerHTML = html;
    return template.content;
  }
  /**
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag @param {string} [className] @param {string} [text]
   * @returns {HTMLElementTagNameMap[K]}
   */
  function el(tag, className, text) {
    var node = doc.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }
  // Runs `action` once, at the reader's first sign of life in the frame.
  var TOUCHES = ['pointerdown', 'keydown', 'focusin', 'wheel', 'touchstart'];
  /** @param {() => void} action */
  function onFirstTouch(action) {
    function once() {
      TOUCHES.forEach(function (kind) { removeEventListener(kind, once, true); });
      action();
    }
    TOUCHES.forEach(function (kind) { addEventListener(kind, once, true); });
  }
  // Room left above a node scrolled to, for the host page's own sticky headers, in CSS px.
  var SCROLL_MARGIN = 48;
  /** Brings `node` into the reader's view: the host page scrolls, the frame never does.
   * @param {Element} node */
  function scrollParentTo(node) {
    reportHeight(); // the frame must be tall enough for the place scrolled to
    var top = Math.max(0, node.getBoundingClientRect().top + scrollY - SCROLL_MARGIN);
    if (parent !== window) parent.postMessage({ widget: 'scroll', top: top }, '*');
    else node.scrollIntoView();
  }
  /** Focus for a node that is not a control, without the frame scrolling itself.
   * @param {HTMLElement} node */
  function focusOn(node) {
    if (!node.hasAttribute('tabindex')) node.tabIndex = -1;
    node.focus({ preventScroll: true });
  }

  // -- dates: as WordPress shows them, in the reader's time zone; "3 minutes ago" as the title --
  var relative = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(config.lang, { numeric: 'auto' }) : null;
  var exact = new Intl.DateTimeFormat(config.lang, { dateStyle: 'long', timeStyle: 'short' });
  /** @type {[Intl.RelativeTimeFormatUnit, number][]} */
  var UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400],
    ['hour', 3600], ['minute', 60], ['second', 1]];
  /** @param {ParentNode} scope */
  function describeTimes(scope) {
    if (!relative) return;
    var format = relative;
    scope.querySelectorAll('time[datetime]').forEach(function (node) {
      var when = new Date(node.getAttribute('datetime') || '');
      var seconds = (when.getTime() - Date.now()) / 1000;
      for (var i = 0; i < UNITS.length; i++) {
        if (Math.abs(seconds) >= UNITS[i][1] || i === UNITS.length - 1) {
          /** @type {HTMLElement} */ (node).title = format.format(Math.round(seconds / UNITS[i][1]), UNITS[i][0]);
          break;
        }
      }
      node.textContent = exact.format(when);
    });
  }
  describeTimes(doc);
  setInterval(function () { describeTimes(doc); }, 60000);

  // -- the reply form --------------------------------------------------------------------------
  var form = /** @type {HTMLFormElement} */ (byId('wg-form'));
  var respond = byId('respond');
  var home = /** @type {Node} */ (respond.parentNode), homeNext = respond.nextSibling;
  var parentInput = /** @type {HTMLInputElement} */ (byId('wg-parent'));
  var cancel = byId('cancel-reply');
  var replyTitle = byId('reply-title-text');
  var formError = byId('wg-form-error');
  /** @type {HTMLElement | null} the Reply link the form was opened from, focused on cancel */
  var replyLink = null;

  /** A field of the reply form (a textarea reads and focuses as an input does here).
   * @param {string} name @returns {HTMLInputElement} */
  function field(name) {
    return /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  }
  /** @param {Element} item */
  function commentId(item) {
    return Number(item.id.replace('comment-', ''));
  }
  /** @param {Element} item @returns {HTMLElement} */
  function articleOf(item) {
    return /** @type {HTMLElement} */ (item.querySelector(':scope > article'));
  }
  /** @param {HTMLElement} link */
  function replyTo(link) {
    var item = /** @type {HTMLElement} */ (link.closest('.wg-comment'));
    articleOf(item).after(respond);
    parentInput.value = String(commentId(item));
    var cite = item.querySelector(':scope > article > header > cite');
    replyTitle.textContent = strings.leave_reply_to.replace('{name}', cite ? cite.textContent || '' : '');
    cancel.hidden = false;
    replyLink = link;
    field('body').focus({ preventScroll: true });
    scrollParentTo(respond);
  }
  function resetReply() {
    home.insertBefore(respond, homeNext);
    parentInput.value = '';
    replyTitle.textContent = strings.leave_reply;
    cancel.hidden = true;
  }
  doc.addEventListener('click', function (event) {
    var link = /** @type {HTMLElement | null} */ (/** @type {Element} */ (event.target).closest('a.wg-reply'));
    if (link) { event.preventDefault(); replyTo(link); }
  });
  cancel.addEventListener('click', function (event) {
    event.preventDefault();
    resetReply();
    if (replyLink && replyLink.isConnected) replyLink.focus({ preventScroll: true });
  });

  // Closed to its comment box until a reader goes to it, as on WordPress.com; never when it
  // already holds something (text, or a message) the reader should see.
  if (!field('body').value && formError.hidden && !form.querySelector('.wg-error:not(:empty), .wg-notice')) {
    form.classList.add('wg-collapsed');
    form.addEventListener('focusin', function () { form.classList.remove('wg-collapsed'); });
  }

  // Posting is the writer's (static/writer.js): a reader has touched the form by now, so it
  // is on its way. Should it fail to come, the form posts as it does without this script.
  var writerFailed = false, submitWaiting = false;
  form.addEventListener('submit', function (event) {
    if (writerFailed) return;
    event.preventDefault();
    submitWaiting = true;
    withWriter(function (loaded) { submitWaiting = false; loaded.submit(); });
  });

  // The document is the same bytes for all its readers, so its form token is shared: the first
  // token of this reader's own (from the live stream or the viewer call) replaces it; after
  // that, each post's answer brings the next (`ours`).
  var ownFormToken = false;
  /** @param {string | undefined} token @param {boolean} [ours] */
  function takeFormToken(token, ours) {
    if (token && (ours || !ownFormToken)) { field('form_token').value = token; ownFormToken = true; }
  }

  // -- likes -------------------------------------------------------------------------------------
  // Like buttons need this script (and its voter id), so the script adds them.
  // A toggle button: its words stay "Like", aria-pressed says whether it is on, and its name
  // carries the count beside it ("Like, 3 likes").
  /** @param {HTMLElement} button */
  function nameLike(button) {
    var count = /** @type {HTMLElement} */ (button.parentNode).querySelector('.wg-like-count, .wg-post-like-count');
    var text = count ? (count.textContent || '').trim() : '';
    button.setAttribute('aria-label', text ? strings.like + ', ' + text : strings.like);
  }
  /** @param {ParentNode} scope */
  function enableLikes(scope) {
    scope.querySelectorAll('.wg-like-count').forEach(function (count) {
      var button = el('button', 'wg-like', strings.like);
      button.type = 'button';
      button.setAttribute('aria-pressed', 'false');
      count.before(button);
      nameLike(button);
    });
    var postLike = /** @type {HTMLElement | null} */ (doc.querySelector('button.wg-post-like'));
    if (postLike) { postLike.hidden = false; nameLike(postLike); }
  }
  /** @param {Element | null} button @param {boolean} liked */
  function markLiked(button, liked) {
    if (button) button.setAttribute('aria-pressed', liked ? 'true' : 'false');
  }
  /** @param {Element} count @param {string} text */
  function showLikeCount(count, text) {
    count.textContent = text;
    var button = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (count.parentNode).querySelector('button.wg-like'));
    if (button) nameLike(button);
  }
  doc.addEventListener('click', function (event) {
    var target = /** @type {HTMLElement | null} */ (/** @type {Element} */ (event.target).closest('button.wg-like'));
    // The second click of a double click (detail 2) and clicks while a request is out do
    // nothing: a double click is one like, not a like taken back.
    if (!target || event.detail > 1 || target.getAttribute('data-busy')) return;
    var button = target;
    button.setAttribute('data-busy', '1');
    var item = button.closest('.wg-comment');
    var liked = button.getAttribute('aria-pressed') !== 'true';
    api('POST', 'likes', withPage({
      comment: item ? commentId(item) : null, liked: liked, voter: store.get(VOTER) || ''
    })).then(function (result) {
      if (!result.ok) return;
      store.set(VOTER, result.data.voter);
      markLiked(button, result.data.liked);
      var count = /** @type {HTMLElement} */ (button.parentNode).querySelector('.wg-like-count, .wg-post-like-count');
      if (count) showLikeCount(count, result.data.text);
      likeVersions[item ? commentId(item) : 'post'] = result.data.version;
    }).then(function () { button.removeAttribute('data-busy'); });
  });
  enableLikes(byId('comments'));

  // -- the writer's tools (static/writer.js) ---------------------------------------------------
  // Posting, this reader's own state (their likes, the comments they may still edit, who is
  // signed in), signing in, passkeys, one's own data, editing and deleting come with the
  // reader's first touch, so a reader who only reads never downloads them. A reader with
  // nothing of their own here (no comments, likes or session) costs no request either: the
  // page is the same for everyone, and is revalidated with one 304. Their buttons' clicks
  // come here first: before the script is there, a window the click must open is opened
  // now, while the click allows it, and handed over with the click once it has arrived.
  var WRITER_BUTTONS = 'button.wg-provider, #wg-instance-go, #wg-sign-in-cancel, #wg-log-out,' +
    ' #wg-change, #wg-add-passkey, #wg-download-mine, #wg-erase-mine';
  // The windows the writer's tools open on a click, by name (a form posted there finds it).
  var POPUPS = { signIn: 'widget-sign-in' };
  /** @param {string} name */
  function openPopup(name) {
    return window.open('', name, 'width=520,height=700');
  }
  /** @type {Writer | null} */
  var writer = null;
  /** @type {((writer: Writer) => void)[]} */
  var waitingForWriter = [];
  var writerAsked = false;
  function loadWriter() {
    if (writerAsked) return;
    writerAsked = true;
    var script = el('script');
    script.src = config.writer;
    script.onerror = function () {
      writerFailed = true;
      if (submitWaiting) form.submit(); // as without this script (above)
    };
    doc.head.appendChild(script);
  }
  /** @param {(writer: Writer) => void} action */
  function withWriter(action) {
    if (writer) { action(writer); return; }
    waitingForWriter.push(action);
    loadWriter();
  }
  /** The window a click on `button` opens: the sign-in popup, or none. (The passkeys' buttons
   * are writer.js's own, and come with it.)
   * @param {Element} button */
  function windowFor(button) {
    var provider = button.matches('button.wg-provider') && !button.getAttribute('data-instance');
    return provider || button.id === 'wg-instance-go' ? POPUPS.signIn : '';
  }
  doc.addEventListener('click', function (event) {
    var button = /** @type {Element} */ (event.target).closest(WRITER_BUTTONS);
    if (!button) return;
    if (writer) { writer.clicked(button, null); return; }
    var name = windowFor(button);
    var popup = name ? openPopup(name) : null;
    var pressed = button;
    withWriter(function (loaded) { loaded.clicked(pressed, popup); });
  });
  /** @type {Frame} */
  var frame = {
    doc: doc, config: config, byId: byId, el: el, api: api,
    withPage: withPage, store: store, keys: { tokens: TOKENS, voter: VOTER },
    session: function () { return sessionToken; }, keepSession: keepSession,
    announce: announce, focusOn: focusOn, scrollParentTo: scrollParentTo,
    serverHtml: serverHtml, articleOf: articleOf, describeTimes: describeTimes,
    enableLikes: enableLikes, markLiked: markLiked, field: field, resetReply: resetReply,
    takeFormToken: takeFormToken, ownWrites: ownWrites, popups: POPUPS, openPopup: openPopup,
    // Live news of comments waits while this reader's own post is on its way: what it
    // brings back is theirs, not news.
    holdNews: function (held) {
      posting = held;
      if (held) return;
      var waiting = deferred;
      deferred = [];
      waiting.forEach(noticeComment);
    },
    writerLoaded: function (loaded) {
      writer = loaded;
      var queued = waitingForWriter;
      waitingForWriter = [];
      queued.forEach(function (action) { action(loaded); });
    }
  };
  /** @type {any} */ (window).widgetFrame = frame;

  function startWriter() {
    var stored = store.get(TOKENS);
    if (sessionToken || store.get(SIGNED_IN) || store.get(VOTER) ||
        doc.cookie.indexOf('__Host-widget_signed_in=1') !== -1 ||
        (stored && Object.keys(stored).length)) {
      loadWriter();
    } else {
      onFirstTouch(loadWriter);
    }
  }
  if (storageRefused && parent !== window) fromHost(startWriter); else startWriter();

  // -- signing in ---------------------------------------------------------------------------------
  var signInBox = doc.getElementById('wg-sign-in');
  var needsScript = doc.getElementById('wg-needs-script');
  if (needsScript) needsScript.hidden = true;
  if (signInBox) {
    signInBox.hidden = false;
    byId('wg-fill-details').hidden = true; // the sign-in choices say it: once is enough
  }

  // -- live updates ------------------------------------------------------------------------------
  // New comments and edits wait behind a button ("Show 2 new comments"): nothing moves under
  // the reader's eyes. Like counts change in place.
  var banner = el('p', 'wg-live');
  var bannerButton = el('button', 'wg-live-button');
  bannerButton.type = 'button';
  banner.appendChild(bannerButton);
  banner.hidden = true;
  function showBanner() {
    var count = Object.keys(pendingComments).length;
    var text = count ? pluralText(config.plurals.new_comments, count) : strings.new_activity;
    var shown = !!(count || pendingChanges);
    // Said once each time it changes, politely: a reader in the middle of a sentence finishes it.
    if (shown && (banner.hidden || bannerButton.textContent !== text)) announce(text);
    bannerButton.textContent = text;
    banner.hidden = !shown;
    var title = doc.getElementById('comments-title');
    if (title && banner.previousSibling !== title) title.after(banner);
  }
  /** @param {{ comment: number }} data */
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
      var fresh = /** @type {HTMLElement} */ (serverHtml(html).querySelector('#comments'));
      byId('comments').replaceWith(fresh);
      pendingComments = {};
      pendingChanges = false;
      showBanner();
      describeTimes(fresh);
      enableLikes(fresh);
      withWriter(function (loaded) { loaded.loadViewerState(); }); // on the fresh thread
      // The button pressed is hidden now: the reader goes on from the thread's heading.
      focusOn(byId('comments-title'));
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
      events.addEventListener(kind, /** @param {MessageEvent} e */ function (e) {
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
        showLikeCount(count, pluralText(config.plurals[data.comment ? 'likes' : 'post_likes'], data.count));
      }
    });
    events.addEventListener('reset', function () { pendingChanges = true; showBanner(); });
  }

  // Opened from a link to one comment (#comment-12), or back from posting without the script:
  // bring it into view in the host page, and show which one it is.
  if (/^#comment-\d+$/.test(location.hash)) {
    var target = doc.getElementById(location.hash.slice(1));
    if (target) {
      var linked = target;
      addEventListener('load', function () { scrollParentTo(linked); });
    }
  }
})();
