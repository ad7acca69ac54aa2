// migrate dashboard: formatting, element building and the JSON body view,
// shared by app.js. Every value goes into the page as text, never as HTML.
'use strict';

window.migrateUI = (() => {
  const pct = (v) => (v == null ? '–' : (v * 100).toFixed(2) + '%');
  const ms = (v) => (v == null ? '–' : v.toFixed(1) + ' ms');
  const pctAxis = (v) => +(v * 100).toFixed(2) + '%';
  const num = (v) => (v == null ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

  const $ = (sel, root = document) => root.querySelector(sel);
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const kid of kids.flat()) {
      if (kid == null) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const timeText = (t) => new Date(t).toLocaleTimeString();

  // renderBody pretty-prints a JSON body into pre, marking the values at
  // the differing JSON Pointers; any other body is shown as it is.
  function renderBody(pre, text, paths) {
    let v;
    try { v = JSON.parse(text); } catch { pre.append(text); return; }
    const esc = (k) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');
    const walk = (val, ptr, indent, parent) => {
      const target = paths.has(ptr) ? h('mark', { class: 'diff', title: ptr }) : parent;
      if (target !== parent) parent.append(target);
      if (Array.isArray(val) || (val && typeof val === 'object')) {
        const arr = Array.isArray(val);
        const entries = arr ? val.map((x, i) => [i, x]) : Object.entries(val);
        target.append(arr ? '[' : '{');
        entries.forEach(([k, x], i) => {
          target.append('\n' + indent + '  ' + (arr ? '' : JSON.stringify(k) + ': '));
          walk(x, ptr + '/' + esc(k), indent + '  ', target);
          if (i < entries.length - 1) target.append(',');
        });
        target.append((entries.length ? '\n' + indent : '') + (arr ? ']' : '}'));
      } else {
        target.append(JSON.stringify(val));
      }
    };
    walk(v, '', '', pre);
  }

  return { pct, pctAxis, num, ms, $, h, cssVar, timeText, renderBody };
})();
