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
