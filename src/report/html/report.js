// metastable report: charts and step-through drawn from the JSON in #data. Hand-written, no
// library, no network. Text from the data is only ever set with textContent.
(function () {
  'use strict';
  var oldError = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.join.call(arguments, ' '));
    return oldError.apply(console, arguments);
  };
  var D = JSON.parse(document.getElementById('data').textContent);
  // Okabe-Ito: safe for colour-blind readers.
  var PAL = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];
  var NS = 'http://www.w3.org/2000/svg';
  var W = 900, H = 290, ML = 70, MR = 16, MT = 14, MB = 44;

  function el(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function sv(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v === 'string') return v;
    var a = Math.abs(v);
    if (Math.abs(v - Math.round(v)) < 1e-9 * Math.max(1, a) && a < 1e6) return Math.round(v).toLocaleString('en-US');
    if (a >= 1e6) return (v / 1e6).toFixed(2) + ' M';
    if (a >= 1e4) return Math.round(v).toLocaleString('en-US');
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1 || a === 0) return v.toFixed(2);
    return v.toPrecision(2);
  }

  // Labels and units of the columns; counts are per window.
  var META = {
    goodput_per_s: ['goodput', '/s'], throughput_per_s: ['throughput', '/s'],
    queue_len_end: ['queue (waiting)', 'requests'], queue_len_mean: ['queue, mean', 'requests'],
    queue_len_max: ['queue, max', 'requests'], busy_mean: ['busy servers', 'servers'],
    utilisation: ['utilisation', 'fraction'], in_flight_mean: ['calls in flight', 'calls'],
    hit_rate: ['cache hit rate', 'fraction'], records_empty_mean: ['DNS record empty', 'fraction of window'],
    leases_held_mean: ['leases held', 'leases'], lease_fraction_mean: ['hosts with a lease', 'fraction'],
    targets_healthy_mean: ['healthy targets', 'targets'], targets_in_service_mean: ['targets in service', 'targets'],
    targets_pending_mean: ['targets pending', 'targets'], tasks_down_mean: ['tasks / nodes down', 'tasks'],
    crashes: ['crashes', 'per window'], overload_crashes: ['overload crashes', 'per window'],
    restarts: ['restarts', 'per window'], timeouts: ['timeouts', 'per window'], rejected: ['rejected', 'per window'],
    retries: ['retries', 'per window'], give_ups: ['calls given up', 'per window'], first_tries: ['new calls', 'per window'],
    successes: ['successful calls', 'per window'], errors: ['error answers', 'per window'],
    circuit_open: ['failed fast: breaker open', 'per window'], budget_exhausted: ['retries denied by budget', 'per window'],
    throttled: ['throttled locally', 'per window'], dns_failures: ['DNS failures', 'per window'],
    amplification: ['attempts per call', 'ratio'], call_all_ms_p99: ['p99 latency, every call', 'ms'],
    call_ok_ms_p99: ['p99 latency, successful calls', 'ms'], sojourn_ms_p99: ['p99 sojourn', 'ms'],
    task_ms_p99: ['p99 task duration', 'ms'], wait_ms_mean: ['mean wait in queue', 'ms'],
    bad_servers_mean: ['proxies with bad config', 'servers'], zones_failed_mean: ['zones failed', 'zones'],
    netmgr_backlog_mean: ['propagation backlog', 'items'], wasted: ['wasted completions', 'per window'],
    expired: ['expired in queue', 'per window'], shed: ['shed from queue', 'per window'], lost: ['lost to outage', 'per window'],
    arrivals: ['arrivals', 'per window'], completions: ['completions', 'per window']
  };
  function meta(col) {
    if (META[col]) return META[col];
    var st = /^state:(.*)$/.exec(col);
    var name = (st ? st[1] : col).replace(/_/g, ' ');
    var unit = /_per_s$/.test(col) ? '/s' : /_ms/.test(col) ? 'ms' : /_mean$|_fraction|rate/.test(col) ? '' : 'per window';
    return [name, st ? '' : unit];
  }
  // What the step-through shows, in this order, when a component has it.
  var STATE = ['queue_len_end', 'busy_mean', 'utilisation', 'in_flight_mean', 'goodput_per_s', 'retries',
    'timeouts', 'rejected', 'give_ups', 'circuit_open', 'budget_exhausted', 'throttled', 'hit_rate',
    'dns_failures', 'records_empty_mean', 'leases_held_mean', 'lease_fraction_mean', 'targets_healthy_mean',
    'targets_in_service_mean', 'tasks_down_mean', 'crashes', 'overload_crashes', 'bad_servers_mean',
    'zones_failed_mean', 'netmgr_backlog_mean', 'call_all_ms_p99', 'sojourn_ms_p99'];

  function ticks(a, b, n) {
    var step = Math.pow(10, Math.floor(Math.log10((b - a) / n || 1)));
    var err = (b - a) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var v = Math.ceil(a / step) * step; v <= b + step * 1e-9; v += step) out.push(v);
    return out;
  }
  var S = { run: 0, w: 0, playing: null, zoom: null, vis: [], panels: [] };

  // ---------- runs: step-through and charts ----------
  function runsView() {
    var runs = D.runs;
    runs.forEach(function (_, i) { S.vis.push(true); });
    var maxes = runs.map(function (r) {
      return r.components.map(function (c) {
        var m = {};
        for (var k in c.cols) m[k] = c.cols[k].reduce(function (a, v) { return v !== null && Math.abs(v) > a ? Math.abs(v) : a; }, 0);
        return m;
      });
    });
    function tmid(r, i) { return (r.t0[i] + r.t1[i]) / 2; }
    function span() {
      var a = Infinity, b = -Infinity;
      runs.forEach(function (r) { if (r.t0.length) { a = Math.min(a, r.t0[0]); b = Math.max(b, r.t1[r.t1.length - 1]); } });
      return [a, b];
    }
    var full = span();
    var tunit = full[1] - full[0] > 7200 * 2 ? [3600, 'h'] : full[1] - full[0] > 1200 ? [60, 'min'] : [1, 's'];
    function tfmt(t) { var v = t / tunit[0]; return (tunit[1] === 's' ? fmt(v) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + tunit[1]; }

    // --- step-through controls and cards
    var step = document.getElementById('step');
    var ctl = el('div', { 'class': 'controls' }, step);
    var bPrev = el('button', { id: 'prev', title: 'one window back (←)' }, ctl, '◀ back');
    var bPlay = el('button', { id: 'play', title: 'play / pause (space)' }, ctl, '▶ play');
    var bNext = el('button', { id: 'next', title: 'one window on (→)' }, ctl, 'next ▶');
    var slider = el('input', { id: 'cursor', type: 'range', min: 0, max: Math.max(0, runs[0].t0.length - 1), value: 0, step: 1 }, ctl);
    var speed = el('select', { id: 'speed', title: 'windows per second when playing' }, ctl);
    [1, 2, 5, 10, 25].forEach(function (s) { var o = el('option', { value: s }, speed, s + ' win/s'); if (s === 5) o.selected = true; });
    var pick = el('select', { id: 'runpick', title: 'which run the cards show' }, ctl);
    runs.forEach(function (r, i) { el('option', { value: i }, pick, r.variant); });
    if (runs.length < 2) pick.hidden = true;
    var info = el('div', { 'class': 'controls', style: 'position:static;border:0' }, step);
    var clock = el('span', { 'class': 'clock', id: 'clock' }, info);
    var phase = el('span', { 'class': 'phase', id: 'phase' }, info);
    var jumps = el('span', {}, info);
    var cards = el('div', { 'class': 'cards', id: 'state' }, step);
    // Jumps to the moments the verdict is about, for the run on show.
    function moments(r) {
      var m = [];
      if (r.trigger_start_s !== null) m.push(['trigger starts', r.trigger_start_s]);
      if (r.trigger_end_s !== null) m.push(['trigger ends', r.trigger_end_s]);
      if (r.trigger_end_s !== null && r.recovery_s !== null) m.push(['recovered', r.trigger_end_s + r.recovery_s]);
      return m;
    }
    function renderJumps() {
      jumps.textContent = '';
      moments(runs[S.run]).forEach(function (m) {
        var b = el('button', { 'class': 'jump', title: 'move the cursor to t = ' + fmt(m[1]) + ' s' }, jumps, '⇥ ' + m[0]);
        b.onclick = function () { play(false); setCursor(nearest(runs[S.run], m[1] + 1e-9)); };
      });
    }

    function phaseOf(r, t) {
      var ts = r.trigger_start_s, te = r.trigger_end_s;
      if (ts === null || t <= ts) return ['before', ts === null ? 'no trigger' : 'before the trigger'];
      if (te === null || t <= te) return ['trigger', 'trigger active'];
      if (r.recovery_s !== null && t >= te + r.recovery_s) return ['recovered', 'recovered'];
      return ['after', 'trigger over · not recovered'];
    }
    function renderState() {
      var r = runs[S.run], w = S.w, n = r.t0.length;
      clock.textContent = 'window ' + (w + 1) + '/' + n + ' · t = ' + fmt(r.t0[w]) + '–' + fmt(r.t1[w]) + ' s (' + tfmt(r.t1[w]) + ')';
      var ph = phaseOf(r, r.t1[w]);
      phase.className = 'phase ph-' + ph[0];
      phase.textContent = r.variant + ': ' + ph[1];
      cards.textContent = '';
      r.components.forEach(function (c, ci) {
        var card = el('div', { 'class': 'card' }, cards);
        var h = el('h3', {}, card, c.name + ' ');
        el('small', {}, h, c.kind);
        STATE.forEach(function (col) {
          var vals = c.cols[col];
          if (!vals) return;
          var m = meta(col), v = vals[w], mx = maxes[S.run][ci][col] || 1;
          var row = el('div', { 'class': 'row', 'data-col': col }, card);
          el('span', {}, row, m[0]);
          el('span', { 'class': 'v' }, row, fmt(v));
          var bar = el('span', { 'class': 'bar' }, row);
          el('i', { style: 'width:' + (v === null ? 0 : Math.min(100, 100 * Math.abs(v) / mx)).toFixed(1) + '%' }, bar);
        });
        Object.keys(c.state).forEach(function (f) {
          var v = c.state[f][w];
          var row = el('div', { 'class': 'row', 'data-col': 'state:' + f }, card);
          el('span', {}, row, f.replace(/_/g, ' '));
          if (typeof v === 'string') el('span', { 'class': 'v' }, row).appendChild(el('span', { 'class': 'chip s-' + v.replace(/[^a-z_]/g, '') }, null, v));
          else el('span', { 'class': 'v' }, row, fmt(v));
          el('span', {}, row);
        });
      });
    }
    function setCursor(w) {
      var n = runs[S.run].t0.length;
      S.w = Math.max(0, Math.min(n - 1, w | 0));
      slider.value = S.w;
      renderState();
      S.panels.forEach(drawCursor);
    }
    function nearest(r, t) {
      var lo = 0, hi = r.t0.length - 1;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (r.t1[mid] < t) lo = mid + 1; else hi = mid; }
      return lo;
    }
    function play(on) {
      if (S.playing) { clearInterval(S.playing); S.playing = null; }
      bPlay.textContent = on ? '■ pause' : '▶ play';
      if (!on) return;
      var r = runs[S.run];
      var end = S.zoom ? nearest(r, S.zoom[1]) : r.t0.length - 1;
      if (S.w >= end) setCursor(S.zoom ? nearest(r, S.zoom[0]) : 0);
      S.playing = setInterval(function () {
        if (S.w >= end) { play(false); return; }
        setCursor(S.w + 1);
      }, 1000 / Number(speed.value));
    }
    bPrev.onclick = function () { play(false); setCursor(S.w - 1); };
    bNext.onclick = function () { play(false); setCursor(S.w + 1); };
    bPlay.onclick = function () { play(!S.playing); };
    speed.onchange = function () { if (S.playing) play(true); };
    slider.oninput = function () { setCursor(Number(slider.value)); };
    pick.onchange = function () {
      var t = tmid(runs[S.run], S.w);
      S.run = Number(pick.value);
      slider.max = runs[S.run].t0.length - 1;
      setCursor(nearest(runs[S.run], t));
      renderJumps();
      S.panels.forEach(draw);
    };
    document.addEventListener('keydown', function (e) {
      if (e.target && (e.target.tagName === 'SELECT' || e.target.tagName === 'INPUT')) return;
      if (e.key === 'ArrowLeft') { bPrev.onclick(); e.preventDefault(); }
      else if (e.key === 'ArrowRight') { bNext.onclick(); e.preventDefault(); }
      else if (e.key === ' ') { bPlay.onclick(); e.preventDefault(); }
    });

    // --- charts
    var charts = document.getElementById('charts');
    var legend = el('div', { 'class': 'legend', id: 'legend' }, charts);
    runs.forEach(function (r, i) {
      var lab = el('label', {}, legend);
      var cb = el('input', { type: 'checkbox', 'data-run': i }, lab);
      cb.checked = true;
      cb.onchange = function () { S.vis[i] = cb.checked; S.panels.forEach(draw); };
      el('span', { 'class': 'sw', style: 'background:' + PAL[i % PAL.length] }, lab);
      lab.appendChild(document.createTextNode(r.variant + ' (' + r.verdict + ')'));
    });
    var reset = el('button', { id: 'unzoom' }, legend, 'reset zoom');
    reset.onclick = function () { S.zoom = null; S.panels.forEach(draw); };
    var grid = el('div', { 'class': 'panels' }, charts);

    // Every (component, column) some run has.
    var options = [];
    runs.forEach(function (r) {
      r.components.forEach(function (c) {
        Object.keys(c.cols).forEach(function (col) {
          var key = c.name + '\u0000' + col;
          if (options.indexOf(key) < 0) options.push(key);
        });
      });
    });
    function find(kinds, cols) {
      for (var k = 0; k < cols.length; k++) {
        for (var i = 0; i < options.length; i++) {
          var p = options[i].split('\u0000'), comp = runs[0].components.filter(function (c) { return c.name === p[0]; })[0];
          if (p[1] === cols[k] && (!kinds || (comp && kinds.indexOf(comp.kind) >= 0))) return options[i];
        }
      }
      return null;
    }
    var defaults = [
      find(['client', 'source'], ['goodput_per_s']) || find(null, ['goodput_per_s', 'throughput_per_s']),
      find(['service'], ['queue_len_mean', 'busy_mean']),
      find(null, ['tasks_down_mean', 'records_empty_mean', 'leases_held_mean', 'targets_healthy_mean', 'hit_rate', 'bad_servers_mean', 'retries', 'in_flight_mean']),
      find(['client', 'source'], ['call_all_ms_p99', 'timeouts']) || find(null, ['sojourn_ms_p99'])
    ];
    var used = [];
    defaults.forEach(function (d) { if (d && used.indexOf(d) < 0) used.push(d); });
    if (!used.length && options.length) used.push(options[0]);
    used.forEach(function (key) { addPanel(key); });

    function addPanel(key) {
      var box = el('div', { 'class': 'panel' }, grid);
      var sel = el('select', {}, box);
      options.forEach(function (o, oi) {
        var p = o.split('\u0000'), m = meta(p[1]);
        var opt = el('option', { value: oi }, sel, p[0] + ' · ' + m[0] + (m[1] ? ' (' + m[1] + ')' : ''));
        if (o === key) opt.selected = true;
      });
      var svg = sv('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + H }, box);
      var tip = el('div', { 'class': 'tip', hidden: '' }, box);
      var P = { key: key, box: box, svg: svg, tip: tip };
      sel.onchange = function () { P.key = options[Number(sel.value)]; draw(P); };
      S.panels.push(P);
      interact(P);
      draw(P);
    }
    function xr() { return S.zoom || full; }
    function X(t) { var r = xr(); return ML + (t - r[0]) / (r[1] - r[0] || 1) * (W - ML - MR); }
    function T(x) { var r = xr(); return r[0] + (x - ML) / (W - ML - MR) * (r[1] - r[0]); }
    function series(r, key) {
      var p = key.split('\u0000');
      var c = r.components.filter(function (c) { return c.name === p[0]; })[0];
      return c && c.cols[p[1]] ? c.cols[p[1]] : null;
    }
    function draw(P) {
      var svg = P.svg, key = P.key, r0 = xr();
      svg.textContent = '';
      var ymax = 0, ymin = 0;
      runs.forEach(function (r, i) {
        var s = series(r, key);
        if (!S.vis[i] || !s) return;
        for (var k = 0; k < s.length; k++) {
          if (s[k] === null || r.t1[k] < r0[0] || r.t0[k] > r0[1]) continue;
          ymax = Math.max(ymax, s[k]); ymin = Math.min(ymin, s[k]);
        }
      });
      var m = meta(key.split('\u0000')[1]), k = 1;
      // Long latencies read better in seconds.
      if (m[1] === 'ms' && ymax >= 2e4) { k = 1000; m = [m[0], 's']; ymax /= k; ymin /= k; }
      if (ymax === ymin) ymax = ymin + 1;
      var yt = ticks(ymin, ymax * 1.05, 5);
      var ytop = Math.max(ymax, yt[yt.length - 1]);
      P.Y = function (v) { return MT + (1 - (v - ymin) / (ytop - ymin)) * (H - MT - MB); };
      var Y = P.Y;
      var defs = sv('defs', {}, svg);
      var cid = 'clip' + S.panels.indexOf(P);
      sv('rect', { x: ML, y: MT, width: W - ML - MR, height: H - MT - MB }, sv('clipPath', { id: cid }, defs));
      // Trigger band and recovery instant of the run the cards show.
      var rs = runs[S.run];
      var g = sv('g', { 'clip-path': 'url(#' + cid + ')' }, svg);
      if (rs.trigger_start_s !== null) {
        var te = rs.trigger_end_s === null ? r0[1] : rs.trigger_end_s;
        sv('rect', { x: X(rs.trigger_start_s), y: MT, width: Math.max(1, X(te) - X(rs.trigger_start_s)), height: H - MT - MB, fill: '#D55E00', 'fill-opacity': 0.12 }, g);
        sv('text', { x: X(rs.trigger_start_s) + 4, y: MT + 14, fill: '#A04000' }, g, 'trigger');
        if (rs.recovery_s !== null && rs.trigger_end_s !== null) {
          var xr_ = X(rs.trigger_end_s + rs.recovery_s);
          sv('line', { x1: xr_, x2: xr_, y1: MT, y2: H - MB, stroke: '#009E73', 'stroke-width': 2, 'stroke-dasharray': '6 4' }, g);
          sv('text', { x: xr_ + 4, y: MT + 30, fill: '#006E50' }, g, 'recovered');
        }
      }
      yt.forEach(function (v) {
        sv('line', { x1: ML, x2: W - MR, y1: Y(v), y2: Y(v), stroke: '#e4e4e4' }, svg);
        sv('text', { x: ML - 6, y: Y(v) + 4, 'text-anchor': 'end' }, svg, fmt(v));
      });
      ticks(r0[0] / tunit[0], r0[1] / tunit[0], 8).forEach(function (v) {
        var x = X(v * tunit[0]);
        sv('line', { x1: x, x2: x, y1: H - MB, y2: H - MB + 5, stroke: '#444' }, svg);
        sv('text', { x: x, y: H - MB + 19, 'text-anchor': 'middle' }, svg, fmt(v));
      });
      sv('line', { x1: ML, x2: W - MR, y1: H - MB, y2: H - MB, stroke: '#444' }, svg);
      sv('line', { x1: ML, x2: ML, y1: MT, y2: H - MB, stroke: '#444' }, svg);
      sv('text', { x: (ML + W - MR) / 2, y: H - 6, 'text-anchor': 'middle' }, svg, 'time (' + tunit[1] + ')');
      sv('text', { x: 14, y: (MT + H - MB) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 14 ' + (MT + H - MB) / 2 + ')' }, svg, m[0] + (m[1] ? ' (' + m[1] + ')' : ''));
      runs.forEach(function (r, i) {
        var s = series(r, key);
        if (!S.vis[i] || !s) return;
        var d = '', pen = false;
        for (var j = 0; j < s.length; j++) {
          if (s[j] === null) { pen = false; continue; }
          d += (pen ? 'L' : 'M') + X(tmid(r, j)).toFixed(1) + ' ' + Y(s[j] / k).toFixed(1);
          pen = true;
        }
        sv('path', { d: d, 'class': 'series', fill: 'none', stroke: PAL[i % PAL.length], 'stroke-width': i === S.run ? 3 : 2, 'stroke-linejoin': 'round' }, g);
      });
      P.cursor = sv('line', { y1: MT, y2: H - MB, stroke: '#111', 'stroke-width': 2 }, svg);
      P.hover = sv('line', { y1: MT, y2: H - MB, stroke: '#888', 'stroke-dasharray': '3 3', visibility: 'hidden' }, svg);
      P.brush = sv('rect', { y: MT, height: H - MT - MB, fill: '#0072B2', 'fill-opacity': 0.15, visibility: 'hidden' }, svg);
      drawCursor(P);
    }
    function drawCursor(P) {
      if (!P.cursor) return;
      var r = runs[S.run], x = X(tmid(r, S.w));
      var inside = x >= ML && x <= W - MR;
      P.cursor.setAttribute('x1', x); P.cursor.setAttribute('x2', x);
      P.cursor.setAttribute('visibility', inside ? 'visible' : 'hidden');
    }
    function svgX(P, ev) {
      var b = P.svg.getBoundingClientRect();
      return (ev.clientX - b.left) * W / (b.width || W);
    }
    function interact(P) {
      var down = null;
      P.svg.addEventListener('mousedown', function (ev) { down = svgX(P, ev); ev.preventDefault(); });
      P.svg.addEventListener('mousemove', function (ev) {
        var x = svgX(P, ev);
        if (down !== null && Math.abs(x - down) > 6) {
          P.brush.setAttribute('x', Math.min(x, down)); P.brush.setAttribute('width', Math.abs(x - down));
          P.brush.setAttribute('visibility', 'visible');
        }
        hover(P, x, ev);
      });
      P.svg.addEventListener('mouseleave', function () { P.tip.hidden = true; if (P.hover) P.hover.setAttribute('visibility', 'hidden'); });
      window.addEventListener('mouseup', function (ev) {
        if (down === null) return;
        var x = svgX(P, ev), a = down;
        down = null;
        P.brush.setAttribute('visibility', 'hidden');
        if (Math.abs(x - a) > 6) {
          S.zoom = [T(Math.max(ML, Math.min(x, a))), T(Math.min(W - MR, Math.max(x, a)))];
          S.panels.forEach(draw);
        } else if (x >= ML && x <= W - MR) {
          play(false);
          setCursor(nearest(runs[S.run], T(x)));
        }
      });
      P.svg.addEventListener('dblclick', function () { S.zoom = null; S.panels.forEach(draw); });
    }
    function hover(P, x, ev) {
      if (x < ML || x > W - MR) { P.tip.hidden = true; return; }
      var t = T(x);
      P.hover.setAttribute('x1', x); P.hover.setAttribute('x2', x); P.hover.setAttribute('visibility', 'visible');
      P.tip.textContent = '';
      var r0 = runs[S.run];
      el('div', {}, P.tip, 't = ' + tfmt(r0.t1[nearest(r0, t)]));
      runs.forEach(function (r, i) {
        var s = series(r, P.key);
        if (!S.vis[i] || !s) return;
        var line = el('div', {}, P.tip);
        el('span', { 'class': 'sw', style: 'background:' + PAL[i % PAL.length] }, line);
        line.appendChild(document.createTextNode(r.variant + ': ' + fmt(s[nearest(r, t)])));
      });
      P.tip.hidden = false;
      var b = P.box.getBoundingClientRect();
      var left = ev.clientX - b.left + 14;
      if (left > b.width - 220) left = ev.clientX - b.left - 230;
      P.tip.style.left = left + 'px';
      P.tip.style.top = (ev.clientY - b.top + 10) + 'px';
    }

    renderJumps();
    // Start at the end of the trigger's first window, where the story begins.
    var r0 = runs[0];
    setCursor(r0.trigger_start_s !== null ? nearest(r0, r0.trigger_start_s) : 0);
    return { setCursor: setCursor, nearest: nearest, play: play, draw: draw };
  }

  // ---------- sweeps, maps, replications: a table's chart ----------
  function studyView() {
    var t = D.table, box = document.getElementById('study');
    var hd = t.headers, rows = t.rows;
    var numeric = hd.filter(function (h, i) { return rows.some(function (r) { return typeof r[i] === 'number'; }); });
    var ctl = el('div', { 'class': 'controls', style: 'position:static' }, box);
    function selector(label, names, def, none) {
      var l = el('label', {}, ctl, label + ' ');
      var s = el('select', {}, l);
      if (none) el('option', { value: '' }, s, '(none)');
      names.forEach(function (n) { var o = el('option', { value: n }, s, n); if (n === def) o.selected = true; });
      s.onchange = drawStudy;
      return s;
    }
    var isMap = D.kind === 'map';
    var firstAxis = hd[D.kind === 'sweep' ? 1 : 0];
    var xs = selector('x', hd, isMap ? hd[1] : D.kind === 'replications' ? 'variant' : firstAxis);
    var ys = selector('y', isMap ? hd : numeric, isMap ? hd[0] : ['success_ratio_mean', 'success_ratio', 'metastable_fraction'].filter(function (c) { return hd.indexOf(c) >= 0; })[0] || numeric[numeric.length - 1]);
    var gs = selector(isMap ? 'colour' : 'group', hd, isMap ? 'class' : D.kind === 'replications' ? 'variant' : '', !isMap);
    var svg = sv('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + (H + 60) }, box);
    var tip = el('div', { 'class': 'tip', hidden: '' }, box);
    box.style.position = 'relative';
    var CLS = { stable: '#56B4E9', recovered: '#009E73', metastable: '#D55E00', no_trigger: '#bbbbbb', recovering: '#CC79A7', undetermined: '#E69F00' };
    function drawStudy() {
      svg.textContent = '';
      var HH = H + 60, xi = hd.indexOf(xs.value), yi = hd.indexOf(ys.value), gi = hd.indexOf(gs.value);
      function axis(i) {
        var vals = rows.map(function (r) { return r[i]; }).filter(function (v) { return v !== null; });
        var cat = vals.some(function (v) { return typeof v === 'string'; }) || isMap;
        var uniq = [];
        vals.forEach(function (v) { if (uniq.indexOf(v) < 0) uniq.push(v); });
        if (cat) { if (!vals.some(function (v) { return typeof v === 'string'; })) uniq.sort(function (a, b) { return a - b; }); return { cat: true, u: uniq, a: -0.5, b: uniq.length - 0.5 }; }
        var a = Math.min.apply(null, vals), b = Math.max.apply(null, vals);
        // Room for the 95 % intervals of a `_mean` column.
        var ci = hd.indexOf(hd[i].replace(/_mean$/, '_ci95'));
        if (ci >= 0 && ci !== i) rows.forEach(function (r) {
          if (typeof r[i] === 'number' && typeof r[ci] === 'number') { a = Math.min(a, r[i] - r[ci]); b = Math.max(b, r[i] + r[ci]); }
        });
        if (a > 0 && a < (b - a)) a = 0;
        if (a === b) b = a + 1;
        return { cat: false, a: a === 0 ? 0 : a - (b - a) * 0.04, b: b + (b - a) * 0.04 };
      }
      var ax = axis(xi), ay = axis(yi);
      function pos(A, v) { return A.cat ? A.u.indexOf(v) : v; }
      function X(v) { return ML + (pos(ax, v) - ax.a) / (ax.b - ax.a) * (W - ML - MR); }
      function Y(v) { return MT + (1 - (pos(ay, v) - ay.a) / (ay.b - ay.a)) * (HH - MT - MB); }
      function labels(A, horiz) {
        var list = A.cat ? A.u.map(function (v, k) { return [k, v]; }) : ticks(A.a, A.b, 6).map(function (v) { return [v, v]; });
        var every = Math.ceil(list.length / (horiz ? 14 : 12));
        list.forEach(function (p, k) {
          if (k % every) return;
          var v = A.cat ? A.u[p[0]] : p[0];
          if (horiz) sv('text', { x: X(v), y: HH - MB + 18, 'text-anchor': 'middle' }, svg, fmt(p[1]));
          else { sv('line', { x1: ML, x2: W - MR, y1: Y(v), y2: Y(v), stroke: '#e4e4e4' }, svg); sv('text', { x: ML - 6, y: Y(v) + 4, 'text-anchor': 'end' }, svg, fmt(p[1])); }
        });
      }
      labels(ax, true); labels(ay, false);
      sv('line', { x1: ML, x2: W - MR, y1: HH - MB, y2: HH - MB, stroke: '#444' }, svg);
      sv('line', { x1: ML, x2: ML, y1: MT, y2: HH - MB, stroke: '#444' }, svg);
      sv('text', { x: W - MR, y: HH - 6, 'text-anchor': 'end' }, svg, xs.value);
      sv('text', { x: 14, y: (MT + HH - MB) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 14 ' + (MT + HH - MB) / 2 + ')' }, svg, ys.value);
      var groups = [];
      function show(r, ev) {
        tip.textContent = '';
        hd.forEach(function (h, k) { if (r[k] !== null) el('div', {}, tip, h + ': ' + fmt(r[k])); });
        tip.hidden = false;
        var b = box.getBoundingClientRect();
        tip.style.left = Math.min(ev.clientX - b.left + 12, b.width - 260) + 'px';
        tip.style.top = (ev.clientY - b.top + 12) + 'px';
      }
      var ci = hd.indexOf(ys.value.replace(/_mean$/, '_ci95'));
      rows.forEach(function (r) {
        if (r[xi] === null || r[yi] === null) return;
        var gk = gi >= 0 ? r[gi] : '';
        var g = groups.indexOf(gk); if (g < 0) { groups.push(gk); g = groups.length - 1; }
        var col = isMap ? (CLS[r[gi]] || '#999') : PAL[g % PAL.length];
        var shape;
        if (isMap) {
          var cw = (W - ML - MR) / ax.u.length, ch = (HH - MT - MB) / ay.u.length;
          shape = sv('rect', { 'class': 'mark', x: X(r[xi]) - cw / 2, y: Y(r[yi]) - ch / 2, width: cw, height: ch, fill: col }, svg);
        } else {
          if (ci >= 0 && typeof r[ci] === 'number' && /_mean$/.test(ys.value)) sv('line', { x1: X(r[xi]), x2: X(r[xi]), y1: Y(r[yi] - r[ci]), y2: Y(r[yi] + r[ci]), stroke: col }, svg);
          shape = sv('circle', { 'class': 'mark', cx: X(r[xi]), cy: Y(r[yi]), r: 5, fill: col, 'fill-opacity': 0.8 }, svg);
        }
        shape.addEventListener('mousemove', function (ev) { show(r, ev); });
        shape.addEventListener('mouseleave', function () { tip.hidden = true; });
      });
      if (isMap) groups = Object.keys(CLS).filter(function (k) { return rows.some(function (r) { return r[gi] === k; }); });
      groups.forEach(function (gk, g) {
        if (gk === '') return;
        var x = ML + 10 + g * 150;
        sv('rect', { x: x, y: HH - 30 + 18, width: 12, height: 12, fill: isMap ? CLS[gk] : PAL[g % PAL.length] }, svg);
        sv('text', { x: x + 16, y: HH - 30 + 28 }, svg, String(gk));
      });
    }
    drawStudy();
  }

  // ---------- self-test: report.html#selftest ----------
  function selftest(api) {
    var out = [], ok = true;
    function check(c, what) { out.push((c ? 'ok   ' : 'FAIL ') + what); if (!c) ok = false; }
    if (D.runs) {
      var paths = document.querySelectorAll('#charts svg path.series');
      check(document.querySelectorAll('#charts svg.chart').length >= 2, 'at least two charts');
      check(paths.length >= D.runs.length && Array.prototype.every.call(paths, function (p) { return p.getAttribute('d').length > 20; }), paths.length + ' series drawn with data');
      check(document.querySelectorAll('#state .card').length === D.runs[0].components.length, 'one state card per component');
      var recorded = D.runs[0].components.some(function (c) { return Object.keys(c.state).length > 0; });
      if (recorded) check(document.querySelectorAll('#state .row[data-col^="state:"]').length > 0, 'recorded state (state.csv) shown');
      var r = D.runs[0], n = r.t0.length;
      api.setCursor(0);
      var before = document.getElementById('state').textContent, clock0 = document.getElementById('clock').textContent;
      var mid = r.trigger_start_s !== null ? api.nearest(r, r.trigger_start_s + ((r.trigger_end_s || r.t1[n - 1]) - r.trigger_start_s) / 2) : n >> 1;
      document.getElementById('cursor').value = mid;
      document.getElementById('cursor').dispatchEvent(new Event('input'));
      var after = document.getElementById('state').textContent;
      check(after !== before && document.getElementById('clock').textContent !== clock0, 'moving the cursor to window ' + (mid + 1) + ' changes the state table');
      document.getElementById('next').click();
      check(document.getElementById('cursor').value == Math.min(mid + 1, n - 1), 'the step button moves one window');
      document.getElementById('prev').click();
      check(document.getElementById('state').textContent === after, 'stepping back restores the state');
      var jump = document.querySelector('#step button.jump');
      if (jump) {
        jump.click();
        check(Number(document.getElementById('cursor').value) === api.nearest(r, r.trigger_start_s + 1e-9), 'the "trigger starts" button moves the cursor there');
        document.getElementById('cursor').value = mid;
        document.getElementById('cursor').dispatchEvent(new Event('input'));
      }
      var cb = document.querySelector('#legend input');
      cb.click();
      check(document.querySelectorAll('#charts svg path.series').length < paths.length, 'unticking a variant hides its curves');
      cb.click();
      var cur = document.querySelector('#charts svg line[stroke="#111"]');
      check(cur && cur.getAttribute('visibility') !== 'hidden', 'the cursor line is drawn');
    } else {
      check(document.querySelectorAll('#study svg .mark').length > 0, document.querySelectorAll('#study svg .mark').length + ' marks drawn');
    }
    check(window.__errors.length === 0, 'no errors' + (window.__errors.length ? ': ' + window.__errors.join(' | ') : ''));
    var pre = document.getElementById('selftest-result');
    pre.textContent = (ok ? 'SELFTEST PASS' : 'SELFTEST FAIL') + '\n' + out.join('\n');
    pre.hidden = false;
  }

  var api = null;
  try {
    if (D.runs && D.runs.length) api = runsView();
    else if (D.table) studyView();
  } catch (e) {
    window.__errors.push('init: ' + e);
  }
  if (location.hash === '#selftest') {
    try { selftest(api); } catch (e) { window.__errors.push('selftest: ' + e); var p = document.getElementById('selftest-result'); p.textContent = 'SELFTEST FAIL\n' + e; p.hidden = false; }
  }
})();
