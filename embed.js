/* widget embed: <script src="https://comments.example/embed.js" data-site="SITE" async></script>
   The thread in an iframe (in #comments, else after this script); each [data-comment-count=PAGE]
   filled with its count. */
(function () {
  var d = document, l = location;
  var me = d.currentScript || d.querySelector('script[data-site][src*="embed.js"]');
  if (!me) return;
  var o = me.dataset, server = new URL(me.src).origin, site = o.site;
  var canon = d.querySelector('link[rel=canonical]');
  var here = canon ? canon.href : l.origin + l.pathname;
  var lang = o.lang || d.documentElement.lang || '';
  function q(p) {
    return Object.keys(p).map(function (k) {
      return [].concat(p[k]).map(function (v) {
        return encodeURIComponent(k) + '=' + encodeURIComponent(v);
      }).join('&');
    }).join('&');
  }

  // Dark where the frame goes? The first opaque background up, else light text (not the
  // reader's system: it says nothing of the blog).
  function dark(n) {
    function y(c) { c = c.match(/[\d.]+/g); return c[3] == 0 ? -1 : c[0] * .3 + c[1] * .6 + c[2] * .1; }
    for (var v; n.nodeType == 1; n = n.parentNode) if ((v = y(getComputedStyle(n).backgroundColor)) >= 0) return v < 128;
    return y(getComputedStyle(d.body).color) > 128;
  }

  if (!('countsOnly' in o)) {
    var frame = d.createElement('iframe');
    var hash = /^#comment-\d+$/.test(l.hash) ? l.hash : '';
    var spot = d.getElementById('comments');
    if (spot) spot.appendChild(frame); else me.parentNode.insertBefore(frame, me.nextSibling);
    var host = dark(frame.parentNode), theme = /^(light|dark)$/.test(o.theme) ? o.theme : host ? 'dark' : 'light';
    frame.src = server + '/embed/' + encodeURIComponent(site) + '/thread?' + q({
      page: o.pageId || here, url: o.pageUrl || here, title: o.title || d.title,
      theme: theme, lang: lang
    }) + hash;
    frame.title = 'Comments';
    frame.scrolling = 'no';
    // As inside: a scheme differing makes browsers paint the frame opaque. A theme forced
    // against the blog's colours gets its own backdrop.
    frame.style.cssText = 'width:100%;height:320px;border:0;overflow:hidden;color-scheme:' + theme +
      (theme == 'dark' != host ? ';background:' + (host ? '#fff' : '#121212') : '');
    // What the frame may keep here when the browser refuses it storage of its own (its
    // comments' tokens, its voter id): under our server's name, given back to its frame only.
    var kept = 'widget@' + server + ' ';
    addEventListener('message', function (e) {
      // Only our frame, from our server, sizes, names or scrolls it.
      var m = e.data, v = {}, s;
      if (e.source !== frame.contentWindow || e.origin !== server || !m) return;
      if (m.widget === 'height' && m.height > 0) frame.style.height = m.height + 'px';
      if (m.title) frame.title = m.title;
      if (m.widget === 'scroll' && m.top >= 0) {
        scrollTo(0, frame.getBoundingClientRect().top + scrollY + m.top);
      }
      try { // the blog's storage may be refused too: then the frame keeps to its memory
        s = localStorage;
        if (m.widget === 'keep') {
          if (m.value == null) s.removeItem(kept + m.key); else s.setItem(kept + m.key, JSON.stringify(m.value));
        }
        if (m.widget === 'kept?') Object.keys(s).forEach(function (k) {
          if (k.indexOf(kept) == 0) v[k.slice(kept.length)] = JSON.parse(s[k]);
        });
      } catch (x) { /* as said */ }
      if (m.widget === 'kept?') e.source.postMessage({ widget: 'kept', values: v }, server);
    });
  }

  var els = d.querySelectorAll('[data-comment-count]'), pages = [];
  for (var k = 0; k < els.length; k++) {
    var p = els[k].getAttribute('data-comment-count');
    if (pages.indexOf(p) < 0) pages.push(p);
  }
  if (!pages.length) return;
  fetch(server + '/api/v1/counts?' + q({ site: site, lang: lang, page: pages }))
    .then(function (r) { return r.json(); })
    .then(function (j) {
      for (var i = 0; i < els.length; i++) {
        var c = j.counts && j.counts[els[i].getAttribute('data-comment-count')];
        if (c) els[i].textContent = c.text;
      }
    })
    .catch(function () {});
})();
