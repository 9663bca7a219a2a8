// Conveniences on the admin pages; every page works without them.
(function () {
  'use strict';
  var all = document.getElementById('pick-all');
  var picked = document.getElementById('picked');
  function boxes() { return document.querySelectorAll('input.pick'); }
  function count() {
    var n = Array.prototype.filter.call(boxes(), function (box) { return box.checked; }).length;
    if (picked) picked.textContent = n ? n + ' selected' : '';
    if (all) {
      all.checked = n > 0 && n === boxes().length;
      all.indeterminate = n > 0 && n < boxes().length;
    }
  }
  if (all) {
    all.addEventListener('change', function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      count();
    });
  }
  document.addEventListener('change', function (event) {
    if (event.target.classList && event.target.classList.contains('pick')) count();
  });
  // Destructive buttons ask first.
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button[data-confirm]');
    if (button && !window.confirm(button.getAttribute('data-confirm'))) event.preventDefault();
  });
  // Bulk buttons need a selection: say so rather than post nothing.
  var queue = document.getElementById('queue');
  if (queue) {
    queue.addEventListener('submit', function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.name === 'action' &&
          !Array.prototype.some.call(boxes(), function (box) { return box.checked; })) {
        event.preventDefault();
        if (picked) picked.textContent = 'Select some comments first.';
      }
    });
  }
  count();
})();

// The configurator (admin/embed.html): the snippet and the preview follow the choices, the
// snippet copies with one click, and the preview is as tall as its comments.
(function () {
  'use strict';
  var box = document.getElementById('configurator');
  if (!box) return;
  var theme = document.getElementById('c-theme');
  var lang = document.getElementById('c-lang');
  var snippet = document.getElementById('snippet');
  var preview = document.getElementById('preview');
  var copy = document.getElementById('copy-snippet');
  var copied = document.getElementById('copied');
  function redraw() {
    var attributes = ' data-site="' + box.dataset.site + '"';
    if (theme.value !== 'auto') attributes += ' data-theme="' + theme.value + '"';
    if (lang.value) attributes += ' data-lang="' + lang.value + '"';
    snippet.textContent = '<div id="comments"></div>\n<script src="' + box.dataset.publicUrl +
      '/embed.js"' + attributes + ' async></' + 'script>';
    var here = new URL(location.href);
    here.searchParams.set('theme', theme.value);
    here.searchParams.set('lang', lang.value);
    history.replaceState(null, '', here);
    document.querySelectorAll('input[type=hidden][name=theme]').forEach(function (input) {
      input.value = theme.value;
    });
    document.querySelectorAll('input[type=hidden][name=lang]').forEach(function (input) {
      input.value = lang.value;
    });
    if (preview) {
      var src = new URL(preview.src);
      src.searchParams.set('theme', theme.value);
      src.searchParams.set('lang', lang.value);
      preview.src = src.href;
    }
    copied.textContent = '';
  }
  theme.addEventListener('change', redraw);
  lang.addEventListener('change', redraw);
  if (navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener('click', function () {
      navigator.clipboard.writeText(snippet.textContent).then(function () {
        copied.textContent = 'Copied.';
      }, function () {
        copied.textContent = 'Select the snippet and copy it by hand.';
      });
    });
  }
  addEventListener('message', function (event) {
    var m = event.data;
    if (!preview || event.source !== preview.contentWindow || event.origin !== location.origin ||
        !m || m.widget !== 'height' || !(m.height > 0)) return;
    preview.style.height = Math.ceil(m.height) + 'px';
  });
})();

// The queue from the keyboard, as in WordPress: j/k move between comments, x selects, a u s d
// act on the current one (its own buttons, so the page does what a click would), e edits,
// r replies (on the comment's page, with the cursor in the reply box).
(function () {
  'use strict';
  var queue = document.getElementById('queue');
  if (!queue) return;
  var rows = Array.prototype.slice.call(queue.querySelectorAll('article.comment'));
  var current = -1;
  function move(to) {
    if (!rows.length) return;
    if (current >= 0) rows[current].classList.remove('current');
    current = Math.max(0, Math.min(rows.length - 1, to));
    rows[current].classList.add('current');
    rows[current].focus();
  }
  var buttons = { a: 'approve', u: 'unapprove', s: 'spam', d: 'delete' };
  document.addEventListener('keydown', function (event) {
    var target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey ||
        (target.closest && target.closest('input, textarea, select, [contenteditable]'))) return;
    var key = event.key;
    if (key === 'j' || key === 'k') {
      move(current + (key === 'j' ? 1 : -1));
      event.preventDefault();
      return;
    }
    if (current < 0) return;
    var row = rows[current];
    if (key === 'x') {
      var box = row.querySelector('input.pick');
      if (box) box.click();
    } else if (key === 'e' || key === 'r') {
      var link = row.querySelector(key === 'e' ? 'a.act-edit' : 'a.act-reply');
      if (link) link.click();
    } else if (buttons[key]) {
      var button = row.querySelector('button.act-' + buttons[key]);
      if (!button) return;
      if (key === 'd' && !window.confirm('Delete this comment?')) return;
      button.click();
    } else {
      return;
    }
    event.preventDefault();
  });
})();

// Arriving from the queue's Reply (or its r key): the cursor waits in the reply box.
(function () {
  'use strict';
  var box = document.getElementById('reply-body');
  // After load: Chromium scrolls to the #reply heading then, which would take the focus back.
  if (box && location.hash === '#reply') {
    addEventListener('load', function () { box.focus(); });
  }
})();
