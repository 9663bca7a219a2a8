/* widget embed: <script src="https://comments.example/embed.js" data-site="SITE" async></script>
   Puts the page's comment thread in an iframe (into #comments, else after this script) and fills
   every [data-comment-count="PAGE"] element with that page's count. No dependencies. */
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

  if (!('countsOnly' in o)) {
    var frame = d.createElement('iframe');
    var hash = /^#comment-\d+$/.test(l.hash) ? l.hash : '';
    frame.src = server + '/embed/' + encodeURIComponent(site) + '/thread?' + q({
      page: o.pageId || here, url: o.pageUrl || here, title: o.title || d.title,
      theme: o.theme || 'auto', lang: lang
    }) + hash;
    frame.title = 'Comments';
    frame.setAttribute('scrolling', 'no');
    frame.style.cssText = 'width:100%;height:320px;border:0;overflow:hidden;color-scheme:normal';
    var spot = d.getElementById('comments');
    if (spot) spot.appendChild(frame); else me.parentNode.insertBefore(frame, me.nextSibling);
    addEventListener('message', function (e) {
      // Only our own frame, from our own server, may resize it or scroll to a comment.
      var m = e.data;
      if (e.source !== frame.contentWindow || e.origin !== server || !m) return;
      if (m.widget === 'height' && m.height > 0) frame.style.height = Math.ceil(m.height) + 'px';
      if (m.widget === 'scroll' && m.top >= 0) {
        scrollTo(0, frame.getBoundingClientRect().top + scrollY + m.top);
      }
    });
  }

  var els = d.querySelectorAll('[data-comment-count]'), pages = [];
  for (var i = 0; i < els.length; i++) {
    var p = els[i].getAttribute('data-comment-count');
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
