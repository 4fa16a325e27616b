// AdoptScope dashboard: draws every chart from its JSON options (one
// <script type="application/json"> per chart, written by the server) and
// wires the filter bar. No inline scripts, no eval, nothing from elsewhere.
(function () {
  'use strict';

  function drawCharts() {
    var drawn = [];
    var els = document.querySelectorAll('.chart[data-chart]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var src = document.getElementById(el.getAttribute('data-chart'));
      if (!src) continue;
      if (typeof echarts === 'undefined') {
        el.textContent = 'The chart library did not load; the numbers are in the table below.';
        el.className += ' error';
        continue;
      }
      try {
        var chart = echarts.init(el, null, { renderer: 'canvas' });
        var option = JSON.parse(src.textContent);
        if (el.clientWidth < 600) {
          // Numbers in heatmap cells do not fit on a phone; the table has them.
          (option.series || []).forEach(function (sr) {
            if (sr.type === 'heatmap' && sr.label) sr.label.show = false;
          });
        }
        chart.setOption(option);
        el.setAttribute('data-drawn', '1');
        drawn.push(chart);
      } catch (e) {
        el.textContent = 'This chart could not be drawn (' + e.message + '); the numbers are in the table below.';
        el.className += ' error';
      }
    }
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(function (entries) {
        for (var j = 0; j < entries.length; j++) {
          var c = echarts.getInstanceByDom(entries[j].target);
          if (c) c.resize();
        }
      });
      drawn.forEach(function (c) { ro.observe(c.getDom()); });
    } else {
      window.addEventListener('resize', function () { drawn.forEach(function (c) { c.resize(); }); });
    }
  }

  function wireFilters() {
    var form = document.querySelector('form.filters');
    if (!form) return;
    var range = form.elements['range'];
    var dates = form.querySelectorAll('input[type=date]');
    for (var i = 0; i < dates.length; i++) {
      dates[i].addEventListener('change', function () { if (range) range.value = 'custom'; });
    }
    if (range) {
      range.addEventListener('change', function () {
        if (range.value !== 'custom') form.submit();
      });
    }
    // On a phone the less used filters fold away unless one is set.
    var more = form.querySelector('details.more');
    if (more && !more.hasAttribute('data-active') && window.matchMedia('(max-width: 800px)').matches) {
      more.removeAttribute('open');
    }
    var iv = form.elements['interval'];
    if (iv) iv.addEventListener('change', function () { form.submit(); });
  }

  function wireConfirm() {
    var forms = document.querySelectorAll('form[data-confirm]');
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener('submit', function (ev) {
        if (!window.confirm(this.getAttribute('data-confirm'))) ev.preventDefault();
      });
    }
  }

  // Impact: a date of one's own replaces the picked annotation.
  function wireImpact() {
    var form = document.querySelector('form[data-testid=impact-picker]');
    if (!form) return;
    var date = form.elements['date'];
    var ann = form.elements['annotation'];
    if (date && ann) date.addEventListener('change', function () { ann.value = ''; });
    if (ann) ann.addEventListener('change', function () { if (date) date.value = ''; form.submit(); });
  }

  function init() {
    drawCharts();
    wireFilters();
    wireConfirm();
    wireImpact();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
