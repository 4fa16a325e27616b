// AdoptScope dashboard: draws every chart from its JSON options (one
// <script type="application/json"> per chart, written by the server) and
// wires the filter bar. No inline scripts, no eval, nothing from elsewhere.
(function () {
  'use strict';

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function fmtNum(v, percent) {
    if (v === null || v === undefined || v === '-') return '–';
    if (percent) return (Math.round(v * 10) / 10).toFixed(1) + ' %';
    return Math.round(v).toLocaleString('en-US');
  }

  // Time charts: one line per name (a dotted incomplete stretch is a
  // second series of the same name), the incomplete period's note, values
  // formatted as the table formats them.
  function timeTooltip(meta) {
    var inc = meta.incomplete || {};
    return function (params) {
      if (!params || !params.length) return '';
      var period = params[0].axisValue;
      var out = ['<b>' + esc(period) + '</b>'];
      var seen = {};
      params.forEach(function (p) {
        var v = Array.isArray(p.value) ? p.value[1] : p.value;
        if (v === null || v === undefined || seen[p.seriesName]) return;
        // Counts drawn below the axis (the lifecycle's dormant) are
        // positive counts.
        if (meta.abs && typeof v === 'number') v = Math.abs(v);
        seen[p.seriesName] = true;
        out.push(p.marker + esc(p.seriesName) + ': <b>' + fmtNum(v, meta.percent) + '</b>');
      });
      if (inc[period]) out.push('<i>' + esc(inc[period]) + '</i>');
      return out.join('<br>');
    };
  }

  // Retention cells: the cohort, the period, the rate and the people;
  // small cohorts and windows not over yet say so.
  function heatTooltip(meta) {
    return function (p) {
      var c = (meta.cells || {})[p.value[0] + ',' + p.value[1]];
      if (!c) return '';
      var s = '<b>Cohort ' + esc(c.cohort) + '</b> (' + esc(c.size) + ' people)<br>' + esc(c.offset) + ': <b>' +
        fmtNum(c.rate, true) + '</b> active again (' + esc(c.users) + ' people)';
      if (c.note) s += '<br><i>' + esc(c.note) + '</i>';
      return s;
    };
  }

  function sankeyTooltip(meta) {
    return function (p) {
      var key = p.dataType === 'edge' ? p.data.target : p.name;
      var t = (meta.tips || {})[key];
      if (!t) return esc(p.name) + (p.value !== undefined ? ': ' + fmtNum(p.value) : '');
      return t.map(function (l, i) { return i === 0 ? '<b>' + esc(l) + '</b>' : esc(l); }).join('<br>');
    };
  }

  // Legend rows: ECharts' plain legend wraps onto as many rows as its
  // width needs; the plot starts below the last row. Measured with the
  // legend's own font, so no series is ever paged away.
  var measure = document.createElement('canvas').getContext('2d');
  function layoutLegend(option, width) {
    var lg = Array.isArray(option.legend) ? option.legend[0] : option.legend;
    if (!lg || lg.show === false) return;
    var names = lg.data || (option.series || []).map(function (s) { return s.name; });
    var seen = {};
    names = names.filter(function (n) { if (seen[n]) return false; seen[n] = true; return true; });
    var avail = Math.max(width - 8 - 36, 120);
    measure.font = '12px sans-serif';
    var rows = 1, x = 0;
    names.forEach(function (n) {
      var w = 25 + 5 + measure.measureText(n).width + 10;
      if (x > 0 && x + w > avail) { rows++; x = w; } else { x += w; }
    });
    lg.type = 'plain';
    lg.left = 8;
    lg.width = avail;
    lg.itemGap = 10;
    var grid = Array.isArray(option.grid) ? option.grid[0] : option.grid;
    if (grid) grid.top = rows * 22 + 14;
    return rows;
  }

  function prepare(option, el) {
    var meta = option.adoptscope || {};
    delete option.adoptscope;
    var width = el.clientWidth;
    if (meta.kind === 'time') {
      option.tooltip = option.tooltip || {};
      if (Array.isArray(option.tooltip)) option.tooltip = option.tooltip[0];
      option.tooltip.formatter = timeTooltip(meta);
      option.tooltip.confine = true;
      var rows = layoutLegend(option, width);
      // A legend of several rows gets its own room: the plot keeps its
      // height instead of shrinking under it.
      if (rows > 2) meta.height = el.clientHeight + (rows - 2) * 22;
    } else if (meta.kind === 'curve') {
      // A curve over a category axis (the power-user curve): the legend
      // wraps like a time chart's.
      var crows = layoutLegend(option, width);
      if (crows > 2) meta.height = el.clientHeight + (crows - 2) * 22;
    } else if (meta.kind === 'map') {
      // A world map is about twice as wide as high: on a phone it gets
      // the height its width needs, not a tall box it would float in.
      meta.height = Math.min(meta.height || 420, Math.max(200, Math.round(width * 0.6) + 56));
    } else if (meta.kind === 'heatmap') {
      option.tooltip = { show: true, confine: true, formatter: heatTooltip(meta) };
      if (width < 600) {
        // Numbers in heatmap cells do not fit on a phone; hover and the
        // table have them.
        (option.series || []).forEach(function (sr) { if (sr.label) sr.label.show = false; });
      }
    } else if (meta.kind === 'sankey') {
      option.tooltip = { show: true, confine: true, trigger: 'item', formatter: sankeyTooltip(meta) };
      (option.series || []).forEach(function (sr) {
        if (sr.type !== 'sankey') return;
        // One line per label, cut to the room beside the flows, and at
        // least a label's height between nodes: labels never overlap.
        sr.label = sr.label || {};
        sr.label.width = Math.max(width / 2 - 24, 90);
        sr.label.overflow = 'truncate';
        if (width < 600) sr.label.fontSize = 11;
        sr.nodeGap = 16;
        var n = (sr.data || []).length;
        meta.height = Math.max(meta.height || 0, 340, n * 24 + 60);
      });
    }
    return meta;
  }

  function failed(el, e) {
    el.textContent = 'This chart could not be drawn (' + e.message + '); the numbers are in the table below.';
    el.className += ' error';
  }

  // A map chart: its borders (GeoJSON served by the app, meta.geo) are
  // registered once under meta.map, then the chart is drawn; clicking a
  // region opens meta.click with the region's name in place of {name}.
  var maps = {};
  function drawMap(el, option, meta, drawn) {
    var ready = maps[meta.map] || (maps[meta.map] = fetch(meta.geo).then(function (r) {
      if (!r.ok) throw new Error('map data: HTTP ' + r.status);
      return r.json();
    }).then(function (geo) { echarts.registerMap(meta.map, geo); }));
    ready.then(function () {
      var chart = echarts.init(el, null, { renderer: 'canvas' });
      chart.setOption(option);
      if (meta.click) {
        chart.on('click', function (p) {
          var code = p.data && p.data.code;
          if (code) window.location.href = meta.click.replace('{name}', encodeURIComponent(code));
        });
      }
      el.setAttribute('data-drawn', '1');
      drawn.push(chart);
      if (window.ResizeObserver) new ResizeObserver(function () { chart.resize(); }).observe(el);
    }).catch(function (e) { failed(el, e); });
  }

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
        var option = JSON.parse(src.textContent);
        var meta = prepare(option, el);
        if (meta.height) el.style.height = meta.height + 'px';
        if (meta.kind === 'map') {
          drawMap(el, option, meta, drawn);
          continue;
        }
        var chart = echarts.init(el, null, { renderer: 'canvas' });
        chart.setOption(option);
        chart.__legendOption = meta.kind === 'time' ? option : null;
        el.setAttribute('data-drawn', '1');
        drawn.push(chart);
      } catch (e) {
        failed(el, e);
      }
    }
    function resize(c) {
      var o = c.__legendOption;
      if (o) {
        layoutLegend(o, c.getDom().clientWidth);
        c.setOption({ legend: o.legend, grid: o.grid });
      }
      c.resize();
    }
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(function (entries) {
        for (var j = 0; j < entries.length; j++) {
          var c = echarts.getInstanceByDom(entries[j].target);
          if (c) resize(c);
        }
      });
      drawn.forEach(function (c) { ro.observe(c.getDom()); });
    } else {
      window.addEventListener('resize', function () { drawn.forEach(resize); });
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
