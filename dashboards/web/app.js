// migrate dashboard: loads the history, then follows the event stream.
// Every value from the server is put into the page as text, never as HTML.
'use strict';

(() => {
  const MAX_POINTS = 900;
  const SIDES = ['old', 'new'];
  const { pct, pctAxis, num, ms, $, h, cssVar, timeText, renderBody } = window.migrateUI;
  const count = (v) => (v ?? 0).toLocaleString('en-US');
  const ARROWS = { old_to_new: 'old→new', new_to_old: 'new→old' };

  // The panels of each column; both columns draw the same ones on a
  // shared y axis. Dashed lines are the requests mirrored to the side
  // (its answers to clients the other side served), never mixed into the
  // solid ones (the clients it served).
  const MIRRORED = [6, 4];
  const PANELS = [
    {
      id: 'rps', title: 'requests/s', fmt: num, floor: 1, series: [
        { label: 'req/s', color: '--s1', get: (s, i) => s.rps[i] },
        { label: 'mirrored req/s', color: '--s2', dash: MIRRORED, get: (s, i) => s.mirrored.rps[i] },
      ],
    },
    {
      id: 'err', title: 'error rate (5xx)', fmt: pct, axis: pctAxis, floor: 0.01, series: [
        { label: '5xx', color: '--s5', get: (s, i) => s.error_rate[i] },
        { label: 'mirrored 5xx', color: '--s3', dash: MIRRORED, get: (s, i) => s.mirrored.error_rate[i] },
        { label: 'mirrored, no answer', color: '--s4', dash: [2, 3], get: (s, i) => s.mirrored.no_answer_rate[i] },
      ],
    },
    {
      id: 'lat', title: 'latency', fmt: ms, axis: (v) => v.toFixed(v < 10 ? 1 : 0) + ' ms', floor: 1, series: [
        { label: 'p50', color: '--s1', get: (s, i) => s.p50_ms[i] },
        { label: 'p95', color: '--s2', get: (s, i) => s.p95_ms[i] },
        { label: 'p99', color: '--s3', get: (s, i) => s.p99_ms[i] },
        { label: 'mirrored p50', color: '--s1', dash: MIRRORED, get: (s, i) => s.mirrored.p50_ms[i] },
        { label: 'mirrored p99', color: '--s3', dash: MIRRORED, get: (s, i) => s.mirrored.p99_ms[i] },
      ],
    },
    {
      id: 'cls', title: 'answers/s by status class (served)', fmt: num, floor: 1, series: ['1xx', '2xx', '3xx', '4xx', '5xx'].map((c, k) => (
        { label: c, color: '--s' + (k + 1), get: (s, i) => s.classes[k][i] })),
    },
    { id: 'log', title: 'log error rate', fmt: pct, axis: pctAxis, floor: 0.01, logs: true, series: [{ label: 'log errors', color: '--s5', get: (s, i) => s.log_error_rate[i] }] },
  ];

  const st = {
    hist: null, // History from the server, kept up to date by frames
    seq: 0,
    app: null,
    latest: null,
    charts: {}, // "old-rps" -> uPlot
    sort: { key: 'diff_rate', dir: -1 },
    detail: null, // endpoint shown in the detail view
    es: null,
  };

  // --- data -------------------------------------------------------------

  async function loadHistory() {
    const res = await fetch('api/history', { cache: 'no-store' });
    if (!res.ok) throw new Error('history: ' + res.status);
    const hist = await res.json();
    st.hist = hist;
    st.seq = hist.seq;
    st.latest = hist.latest;
    const apps = (hist.latest.apps || []).map((a) => a.app);
    if (!st.app || !apps.includes(st.app)) st.app = new URLSearchParams(location.search).get('app') || apps[0] || null;
    render(true);
  }

  function emptySide() {
    return {
      rps: [], error_rate: [], p50_ms: [], p95_ms: [], p99_ms: [], classes: [[], [], [], [], []], log_error_rate: [],
      mirrored: { rps: [], error_rate: [], no_answer_rate: [], p50_ms: [], p95_ms: [], p99_ms: [] },
    };
  }

  const MIRROR_COLUMNS = ['rps', 'error_rate', 'no_answer_rate', 'p50_ms', 'p95_ms', 'p99_ms'];

  function applyFrame(f) {
    if (f.seq <= st.seq) return;
    st.seq = f.seq;
    st.latest = f;
    for (const a of f.apps) {
      let s = st.hist.apps[a.app];
      if (!s) s = st.hist.apps[a.app] = { t: [], old: emptySide(), new: emptySide(), pairs: [], diff_rate: [] };
      s.t.push(f.at);
      for (const side of SIDES) {
        const p = a.point[side], c = s[side];
        c.rps.push(p.rps); c.error_rate.push(p.error_rate);
        c.p50_ms.push(p.p50_ms); c.p95_ms.push(p.p95_ms); c.p99_ms.push(p.p99_ms);
        p.classes.forEach((v, k) => c.classes[k].push(v));
        c.log_error_rate.push(p.log_error_rate ?? null);
        for (const col of MIRROR_COLUMNS) c.mirrored[col].push(p.mirrored?.[col] ?? 0);
      }
      s.pairs.push(a.point.pairs); s.diff_rate.push(a.point.diff_rate);
      trim(s);
    }
    if (f.events) st.hist.events = st.hist.events.concat(f.events).slice(-200);
    render(false);
  }

  function trim(s) {
    const extra = s.t.length - MAX_POINTS;
    if (extra <= 0) return;
    const cut = (a) => a.splice(0, extra);
    cut(s.t); cut(s.pairs); cut(s.diff_rate);
    for (const side of SIDES) {
      const c = s[side];
      [c.rps, c.error_rate, c.p50_ms, c.p95_ms, c.p99_ms, c.log_error_rate, ...c.classes].forEach(cut);
      MIRROR_COLUMNS.forEach((col) => cut(c.mirrored[col]));
    }
  }

  function connect() {
    if (st.es) st.es.close();
    const es = new EventSource('events?after=' + st.seq);
    st.es = es;
    const conn = $('#conn');
    es.addEventListener('open', () => { conn.textContent = 'live'; conn.className = 'conn live'; });
    es.addEventListener('error', () => { conn.textContent = 'reconnecting…'; conn.className = 'conn down'; });
    es.addEventListener('frame', (ev) => {
      const f = JSON.parse(ev.data);
      conn.textContent = f.error ? 'source: ' + f.error : 'live';
      conn.className = f.error ? 'conn down' : 'conn live';
      applyFrame(f);
    });
    es.addEventListener('resync', () => {
      loadHistory().catch((err) => { console.error('resyncing:', err); showError(err); });
    });
  }

  function showError(err) {
    const conn = $('#conn');
    conn.textContent = String(err.message || err);
    conn.className = 'conn down';
  }

  const appFrame = () => (st.latest?.apps || []).find((a) => a.app === st.app);

  // --- rendering --------------------------------------------------------

  function render(full) {
    renderTabs();
    renderOverview();
    const a = appFrame();
    $('#app').hidden = !a;
    if (!a) return;
    $('#app-title').textContent = a.app;
    if (full) buildCharts();
    updateCharts();
    renderTotals(a);
    renderCutover(a);
    renderDNS(a);
    renderFallback(a);
    renderEvents();
    renderDiffs(a);
  }

  function renderTabs() {
    const nav = $('#app-tabs');
    const apps = (st.latest?.apps || []).map((a) => a.app);
    if (nav.dataset.apps === apps.join(',') && nav.dataset.current === st.app) return;
    nav.dataset.apps = apps.join(',');
    nav.dataset.current = st.app || '';
    nav.replaceChildren(...apps.map((name) => h('button', {
      type: 'button', 'aria-current': String(name === st.app), onclick: () => selectApp(name),
    }, name)));
  }

  function selectApp(name) {
    st.app = name;
    st.detail = null;
    $('#diff-detail').hidden = true;
    render(true);
  }

  function overallDiffRate(a) {
    let req = 0, diffs = 0;
    for (const r of a.diffs || []) { req += r.requests; diffs += r.diffs; }
    return req ? diffs / req : null;
  }

  function dnsText(a) {
    if (!a.dns) return '–';
    const recs = a.dns.records || [];
    if (!recs.length) return '–';
    const min = Math.min(...recs.map((r) => r.propagated));
    return pct(min) + ' propagated';
  }

  function renderOverview() {
    const rows = (st.latest?.apps || []).map((a) => h('tr', {
      class: 'selectable' + (a.app === st.app ? ' selected' : ''), onclick: () => selectApp(a.app),
    },
    h('td', null, a.app),
    h('td', { class: 'num' }, a.weight + '%'),
    h('td', null, a.phase),
    h('td', null, a.verdict ? h('span', { class: 'result ' + a.verdict.result }, a.verdict.result) : '–'),
    h('td', { class: 'num' }, pct(overallDiffRate(a))),
    h('td', null, dnsText(a))));
    $('#apps-table tbody').replaceChildren(...rows);
  }

  // renderTotals fills a side's card: the clients it served, then, apart,
  // its answers to the requests mirrored to it.
  function renderTotals(a) {
    for (const side of SIDES) {
      const t = a.totals?.[side] || {};
      const m = t.mirrored || {};
      const p = a.point[side];
      const up = (a.backends || []).filter((b) => b.side === side);
      const items = [
        ['req/s now', num(p.rps)], ['requests', count(t.requests)], ['5xx', count(t.errors)],
        ['error rate', pct(t.error_rate)], ['p50', ms(t.p50_ms)], ['p99', ms(t.p99_ms)],
        ['backends up', up.filter((b) => b.healthy).length + '/' + up.length],
      ];
      if (m.requests) {
        items.push(['mirrored', `${count(m.requests)} requests, ${count(m.errors)} 5xx` + (m.no_answer ? `, ${count(m.no_answer)} no answer` : '')],
          ['mirrored req/s now', num(p.mirrored?.rps)], ['mirrored error rate', pct(m.error_rate)], ['mirrored p99', ms(m.p99_ms)]);
      }
      $(`.side[data-side="${side}"] .totals`).replaceChildren(...items.map(([k, v]) => h('div', { 'data-item': k }, h('dt', null, k), h('dd', null, v))));
      const serving = side === 'new' ? a.weight : 100 - a.weight;
      $(`.side[data-side="${side}"] .side-note`).textContent = serving + '% of clients' +
        (m.requests ? ' · dashed: the requests mirrored to it' : '');
    }
  }

  // --- charts -----------------------------------------------------------

  function panelsShown() {
    return PANELS.filter((p) => !p.logs || st.hist.sections.logs);
  }

  function chartWidth(side) {
    const box = $(`.side[data-side="${side}"] .charts`);
    return Math.max(200, box.clientWidth || 300);
  }

  function buildCharts() {
    for (const u of Object.values(st.charts)) u.destroy();
    st.charts = {};
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
    for (const side of SIDES) {
      const box = $(`.side[data-side="${side}"] .charts`);
      box.replaceChildren();
      for (const p of panelsShown()) {
        const holder = h('div', { class: 'chart', 'data-panel': p.id }, h('h4', null, p.title));
        box.append(holder);
        const opts = {
          width: chartWidth(side),
          height: 150,
          legend: { show: true },
          cursor: { sync: { key: 'migrate-' + p.id } },
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, sharedMax(p, max)] } },
          axes: [{ ...axis, space: 90, values: (u, vals) => vals.map((v) => new Date(v * 1000).toLocaleTimeString()) }, { ...axis, size: 64, values: (u, vals) => vals.map((v) => (p.axis || p.fmt)(v)) }],
          series: [{}, ...p.series.map((s) => ({
            label: s.label, stroke: cssVar(s.color), width: 1.5, dash: s.dash, value: (u, v) => p.fmt(v), spanGaps: true,
          }))],
        };
        st.charts[side + '-' + p.id] = new uPlot(opts, chartData(side, p), holder);
      }
    }
  }

  function chartData(side, p) {
    const s = st.hist.apps[st.app];
    if (!s) return [[], ...p.series.map(() => [])];
    const c = s[side];
    const t = s.t.map((ms) => ms / 1000);
    return [t, ...p.series.map((ser) => t.map((_, i) => ser.get(c, i) ?? null))];
  }

  // sharedMax is the top of a panel's y axis: the highest value of either
  // side, so that old and new are drawn on the same scale.
  function sharedMax(p, fallback) {
    let m = 0;
    for (const side of SIDES) {
      const u = st.charts[side + '-' + p.id];
      const data = u ? u.data : chartData(side, p);
      for (let k = 1; k < data.length; k++) for (const v of data[k]) if (v != null && v > m) m = v;
    }
    return Math.max(m * 1.1, p.floor || 1);
  }

  function updateCharts() {
    for (const p of panelsShown()) {
      const fresh = SIDES.map((side) => chartData(side, p));
      SIDES.forEach((side, k) => { st.charts[side + '-' + p.id].data = fresh[k]; });
      SIDES.forEach((side, k) => st.charts[side + '-' + p.id].setData(fresh[k]));
    }
  }

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const [key, u] of Object.entries(st.charts)) u.setSize({ width: chartWidth(key.split('-')[0]), height: 150 });
    }, 100);
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { if (st.hist && appFrame()) render(true); });

  // --- cutover, events, optional sections ---------------------------------

  function renderCutover(a) {
    const c = $('#cutover');
    $('.bar span', c).style.width = a.weight + '%';
    $('.weight-text', c).textContent = `${a.weight}% on new · ${a.phase}`;
    const input = $('#weight-input');
    if (document.activeElement !== input) input.value = a.weight;
    $('.plan', c).textContent = planText(a.plan);
    const v = a.verdict;
    const box = $('.verdict', c);
    if (!v) { box.replaceChildren(h('p', { class: 'empty' }, 'No verdict yet (no rollback rules, or not enough traffic).')); return; }
    box.replaceChildren(
      h('p', null, 'last verdict ', h('span', { class: 'result ' + v.result }, v.result), ' at ', timeText(v.at),
        v.breaches ? ` · ${v.breaches} failing in a row` : '', v.error ? ' · ' + v.error : ''),
      h('div', { class: 'scroll' }, h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'rule'), h('th', null, 'result'), h('th', { class: 'num' }, 'value'), h('th', { class: 'num' }, 'threshold'), h('th', null, 'why'))),
        h('tbody', null, (v.checks || []).map((ch) => h('tr', null,
          h('td', null, ch.rule), h('td', null, h('span', { class: 'result ' + ch.result }, ch.result)),
          h('td', { class: 'num' }, ruleValue(ch.rule, ch.value)), h('td', { class: 'num' }, ruleValue(ch.rule, ch.threshold)),
          h('td', null, ch.reason)))))));
  }

  const ruleValue = (rule, v) => {
    if (rule === 'min_requests') return String(Math.round(v));
    return rule.includes('p99') ? (v * 1000).toFixed(1) + ' ms' : pct(v);
  };

  function planText(p) {
    if (!p) return 'No progressive plan.';
    const step = `plan step ${p.step + 1}/${p.steps.length} (${p.weight}%)`;
    switch (p.state) {
      case 'running': return `${step} · running · next step in ${Math.round((p.next || 0) / 1e9)} s`;
      case 'holding': return `${step} · holding: the next step needs a passing verdict`;
      case 'paused': return `${step} · paused after a rollback`;
      case 'done': return `${step} · done`;
      default: return `plan of ${p.steps.length} steps (${p.steps.join(', ')}%) · not running`;
    }
  }

  function renderEvents() {
    const evs = (st.hist.events || []).filter((e) => !e.app || e.app === st.app).slice(-100).reverse();
    const list = $('#timeline .events');
    if (!evs.length) { list.replaceChildren(h('li', { class: 'empty' }, 'No events yet.')); return; }
    list.replaceChildren(...evs.map((e) => h('li', null,
      h('time', { datetime: e.at }, timeText(e.at)),
      h('span', { class: 'kind ' + e.kind }, e.kind),
      e.before || e.after ? `${e.before || '–'} → ${e.after || '–'} ` : '',
      e.actor ? `by ${e.actor} ` : '',
      e.reason ? '· ' + e.reason : '')));
  }

  function renderDNS(a) {
    const sec = $('#dns');
    sec.hidden = !st.hist.sections.dns || !a.dns;
    if (sec.hidden) return;
    const resolverRow = (x) => h('tr', null,
      h('td', null, x.role ? `${x.resolver} (${x.role})` : x.resolver),
      h('td', null, h('span', { class: 'result ' + (x.ok ? 'pass' : 'fail') }, x.status || (x.ok ? 'new' : 'old'))),
      h('td', null, x.error || (x.answer || []).join(', ')),
      h('td', { class: 'num' }, x.ttl_s ? x.ttl_s + ' s' : ''));
    const record = (r) => h('div', null,
      h('p', null, h('strong', null, `${r.name} ${r.type}`), ` → ${(r.expect || []).join(', ')}: ${pct(r.propagated)} of resolvers`,
        r.eta ? ' · everywhere by ' + timeText(r.eta) : ''),
      h('table', null, h('tbody', null, (r.resolvers || []).map(resolverRow))));
    $('.body', sec).replaceChildren(...(a.dns.records || []).map(record));
  }

  function renderFallback(a) {
    const sec = $('#fallback');
    sec.hidden = !st.hist.sections.fallback || !a.fallback;
    if (sec.hidden) return;
    const f = a.fallback;
    $('.body', sec).replaceChildren(h('p', null, h('strong', null, String(f.clients)),
      ' distinct clients reached the old host over the last hour; ',
      h('strong', null, num(f.requests_per_minute)), ' requests in the last minute.'),
      h('p', null, retireText(f)));
  }

  // retireText says how far the old host is from retirement: arrivals must
  // stay under retire_below a minute for retire_after_seconds.
  function retireText(f) {
    if (!f.retire_after_seconds) return '';
    const need = f.retire_after_seconds;
    if (!f.below_since) {
      return `Not retirable: arrivals are above ${num(f.retire_below)} a minute.`;
    }
    const under = (Date.now() - Date.parse(f.below_since)) / 1000;
    if (under >= need) {
      return `Under ${num(f.retire_below)} a minute for ${Math.round(under / 60)} min: retirable once DNS has propagated.`;
    }
    return `Under ${num(f.retire_below)} a minute for ${Math.round(under / 60)} of the ${Math.round(need / 60)} min needed.`;
  }

  // --- diffs ------------------------------------------------------------

  function renderDiffs(a) {
    const rows = (a.diffs || []).slice();
    const empty = $('#diffs .empty');
    empty.hidden = rows.length > 0;
    empty.textContent = a.shadowed ? 'No mirrored requests yet.' : 'No mirrored traffic: this app is not shadowed.';
    const { key, dir } = st.sort;
    const text = (k) => k === 'endpoint' || k === 'direction';
    rows.sort((x, y) => {
      const c = text(key) ? String(x[key]).localeCompare(String(y[key])) : x[key] - y[key];
      return c * dir || x.endpoint.localeCompare(y.endpoint) || String(y.direction).localeCompare(String(x.direction));
    });
    for (const th of document.querySelectorAll('#diff-table th[data-key]')) {
      th.setAttribute('aria-sort', th.dataset.key === key ? (dir < 0 ? 'descending' : 'ascending') : 'none');
    }
    const isOpen = (r) => st.detail && r.endpoint === st.detail.endpoint && r.direction === st.detail.direction;
    $('#diff-table tbody').replaceChildren(...rows.map((r) => h('tr', {
      class: 'selectable' + (isOpen(r) ? ' selected' : ''), 'data-endpoint': r.endpoint, 'data-direction': r.direction,
      onclick: () => openDetail(r.endpoint, r.direction),
    },
    h('td', null, h('button', { type: 'button', class: 'link' }, r.endpoint)),
    h('td', { title: r.direction === 'new_to_old' ? 'served by new, mirrored to old' : 'served by old, mirrored to new' }, ARROWS[r.direction] || r.direction),
    h('td', { class: 'num' }, r.requests), h('td', { class: 'num' }, r.diffs), h('td', { class: 'num' }, pct(r.diff_rate)),
    h('td', null, (r.fields || []).join(', ') || '–'))));
  }

  document.querySelector('#diff-table thead').addEventListener('click', (ev) => {
    const th = ev.target.closest('th[data-key]');
    if (!th) return;
    const key = th.dataset.key;
    st.sort = { key, dir: st.sort.key === key ? -st.sort.dir : (key === 'endpoint' || key === 'direction' ? 1 : -1) };
    const a = appFrame();
    if (a) renderDiffs(a);
  });

  async function openDetail(endpoint, direction) {
    st.detail = { endpoint, direction };
    const sec = $('#diff-detail');
    sec.hidden = false;
    $('.title', sec).textContent = `${endpoint} · ${ARROWS[direction] || direction}`;
    $('.body', sec).replaceChildren(h('p', { class: 'empty' }, 'loading…'));
    try {
      const res = await fetch(`api/apps/${encodeURIComponent(st.app)}/diffs`, { cache: 'no-store' });
      const v = await res.json();
      if (!res.ok) throw new Error(v.error || res.status);
      const e = (v.endpoints || []).find((x) => x.endpoint === endpoint && x.direction === direction);
      $('.body', sec).replaceChildren(...detailBody(e));
    } catch (err) {
      $('.body', sec).replaceChildren(h('p', { class: 'action-result error' }, String(err.message || err)));
    }
    const a = appFrame();
    if (a) renderDiffs(a);
    sec.scrollIntoView({ block: 'nearest' });
  }

  $('#diff-detail .close').addEventListener('click', () => {
    st.detail = null;
    $('#diff-detail').hidden = true;
  });

  function detailBody(e) {
    if (!e) return [h('p', { class: 'empty' }, 'No longer in the report.')];
    const fields = e.field_stats || [];
    if (!fields.length) return [h('p', { class: 'empty' }, `No differing field: ${e.requests} mirrored requests answered alike.`)];
    return fields.map((f) => {
      const ex = f.example;
      const head = h('h4', null, h('code', null, f.path), ` · ${f.kind} · ${pct(f.rate)} of requests`, f.noise ? ' · noise' : '');
      if (!ex) return h('div', { class: 'field' }, head, h('p', { class: 'empty' }, 'No stored example.'));
      const paths = new Set(ex.diffs.filter((d) => d.kind === 'json').map((d) => d.path));
      const q = ex.query ? '?' + ex.query : '';
      return h('div', { class: 'field', 'data-field': f.path }, head,
        h('p', { class: 'request-line' }, `${ex.method} ${ex.path}${q} · ${timeText(ex.at)}`),
        h('ul', { class: 'diff-list' }, ex.diffs.map((d) => h('li', null,
          h('code', null, d.path || d.field), ': old ', h('code', null, d.old), ' · new ', h('code', null, d.new)))),
        h('div', { class: 'pair' },
          answer('old', ex.old, ex.curl_old, paths, ex.has_bodies),
          answer('new', ex.new, ex.curl_new, paths, ex.has_bodies)));
    });
  }

  function answer(side, a, curl, paths, hasBodies) {
    const body = h('pre', { class: 'body', 'data-side': side });
    if (!hasBodies) body.append('(bodies are served only on the instance\'s own dashboard)');
    else renderBody(body, a.body || '', paths);
    return h('div', null,
      h('p', null, h('span', { class: 'badge ' + side }, side), ` ${a.status || 'no answer'} · ${ms(a.latency_ms)}`, a.error ? ' · ' + a.error : '', a.truncated ? ' · truncated' : ''),
      body,
      h('button', { type: 'button', onclick: (ev) => copy(curl, ev.target) }, 'Copy as curl'));
  }

  async function copy(text, btn) {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
    } catch {
      window.prompt('Copy the curl command:', text);
    }
  }

  // --- actions ----------------------------------------------------------

  function confirmAction(message) {
    const dlg = $('#confirm');
    $('.message', dlg).textContent = message;
    const input = dlg.querySelector('input[name="token"]');
    input.value = sessionStorage.getItem('migrate-admin-token') || '';
    dlg.returnValue = '';
    dlg.showModal();
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => {
        if (dlg.returnValue !== 'ok') return resolve(null);
        sessionStorage.setItem('migrate-admin-token', input.value);
        resolve(input.value);
      }, { once: true });
    });
  }

  async function act(kind) {
    const app = st.app;
    const a = appFrame();
    let message, method, path, body;
    if (kind === 'weight') {
      const w = Number($('#weight-input').value);
      if (!Number.isInteger(w) || w < 0 || w > 100) return result('The weight is a whole number from 0 to 100.', true);
      message = `Send ${w}% of ${app}'s clients to new (now ${a?.weight}%)?`;
      method = 'PUT'; path = 'weight'; body = { weight: w, reason: 'set from the dashboard' };
    } else if (kind === 'rollback') {
      message = `Roll ${app} back: every client to old?`;
      method = 'POST'; path = 'rollback'; body = { reason: 'rolled back from the dashboard' };
    } else if (kind === 'promote') {
      message = `Move ${app}'s running plan to its next step now, without waiting for step_min?`;
      method = 'POST'; path = 'plan/promote'; body = {};
    } else {
      message = `Start or resume ${app}'s progressive plan?`;
      method = 'POST'; path = 'plan'; body = {};
    }
    const token = await confirmAction(message);
    if (token == null) return;
    try {
      const res = await fetch(`/api/v1/apps/${encodeURIComponent(app)}/${path}`, {
        method, headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token }, body: JSON.stringify(body),
      });
      const out = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(out.error || String(res.status));
      result(`Done: ${app} is at ${out.weight}% on new.`, false);
    } catch (err) {
      result('Refused: ' + (err.message || err), true);
    }
  }

  function result(text, isError) {
    const p = $('#cutover .action-result');
    p.textContent = text;
    p.className = 'action-result' + (isError ? ' error' : '');
  }

  $('#actions').addEventListener('submit', (ev) => { ev.preventDefault(); act('weight'); });
  for (const b of document.querySelectorAll('#actions button[type="button"]')) b.addEventListener('click', () => act(b.dataset.action));
  $('#token-btn').addEventListener('click', async () => {
    const token = await confirmAction('Admin token for the actions of this tab:');
    if (token != null) result(token ? 'Token kept for this tab.' : 'Token cleared.', false);
  });

  // For tests and curious users: the charts and the state.
  window.migrateDashboard = { state: st, get charts() { return st.charts; }, points: (side, panel) => {
    const u = st.charts[side + '-' + panel];
    return u ? u.data[0].length : 0;
  } };

  loadHistory().then(connect).catch((err) => {
    console.error('loading the dashboard:', err);
    showError(err);
    setTimeout(() => location.reload(), 5000);
  });
})();
