// The results as a virtual list: every number of the run has its place (the
// <ol> is as tall as all rows), but only the rows in view exist in the DOM, at
// a fixed row height. So 1,000,000 results scroll like 10.
//
// Keyboard: in the list, ↑/↓ move the current row, PageUp/PageDown by a view,
// Home/End to the first/last; the current row has the focus (screen readers
// read it: role=listitem with aria-posinset/aria-setsize).
'use strict';

import { QUEUED, SENT, COMPOSITE, PRIME, UNIT, ERROR } from './store.js';

const OVERSCAN = 4;           // rows drawn past each edge of the view
const MAX_PX = 8000000;       // the list's height is capped (browsers cap element heights near 2^25 px)

export class VirtualList {
  constructor(view, list, res) {
    this.view = view;         // the scrolling box
    this.list = list;         // the <ol>, sized to all rows
    this.res = res;
    this.rowH = 0;
    this.rows = new Map();    // index -> its <li>
    this.pool = [];
    this.current = -1;        // the row with the keyboard focus
    this.follow = true;       // keep the newest answers in view
    this.ourTop = -1;         // scrollTop we set ourselves (not a person scrolling)
    view.addEventListener('scroll', () => {
      if (Math.abs(view.scrollTop - this.ourTop) > 2) this.follow = this.atEnd();
      this.onScroll();
    }, { passive: true });
    view.addEventListener('keydown', (ev) => this.key(ev));
    new ResizeObserver(() => { this.rowH = 0; this.onScroll(); }).observe(view);
  }

  // Height of one row, from the CSS (phones get two lines a row).
  measure() {
    if (this.rowH) return this.rowH;
    const li = document.createElement('li');
    li.className = 'row';
    li.textContent = '0';
    li.style.visibility = 'hidden';
    this.list.append(li);
    const h = li.getBoundingClientRect().height;
    li.remove();
    if (h > 0) this.rowH = h; // 0 while hidden: measure again next time
    return h || 36;
  }

  // Scroll geometry: content px (all rows) vs the list's px (capped).
  geometry() {
    const h = this.measure(), n = this.res.count;
    const total = n * h, shown = Math.min(total, MAX_PX);
    if (this.list.style.height !== shown + 'px') this.list.style.height = shown + 'px';
    const viewH = this.view.clientHeight;
    const k = shown > viewH ? (total - viewH) / (shown - viewH) : 1; // content px per scroll px
    return { h, n, viewH, total, shown, k };
  }

  atEnd() {
    const v = this.view;
    return v.scrollHeight - v.scrollTop - v.clientHeight < 4;
  }

  scrollToContent(px) {
    const g = this.geometry();
    const top = Math.max(0, Math.min(px / g.k, g.shown - g.viewH));
    this.ourTop = Math.round(top);
    this.view.scrollTop = top;
  }

  // Puts row i in view: at the bottom edge if below, at the top if above.
  reveal(i, where) {
    const g = this.geometry(), t = this.view.scrollTop * g.k;
    const y = i * g.h;
    if (where === 'bottom' || y + g.h > t + g.viewH) this.scrollToContent(y + g.h - g.viewH);
    else if (y < t) this.scrollToContent(y);
  }

  onScroll() { if (this.onscroll) this.onscroll(); }

  // Draws the rows in view; the caller calls it once per animation frame.
  render() {
    const g = this.geometry();
    if (this.follow && g.n) this.reveal(Math.min(this.res.front, g.n - 1), 'bottom');
    const top = this.view.scrollTop, first = top * g.k / g.h;
    const lo = Math.max(0, Math.floor(first) - OVERSCAN);
    const hi = Math.min(g.n, Math.ceil(first + g.viewH / g.h) + OVERSCAN);
    for (const [i, li] of this.rows) {
      if ((i < lo || i >= hi) && i !== this.current) { this.rows.delete(i); this.pool.push(li); li.remove(); li._key = ''; }
    }
    const want = [];
    for (let i = lo; i < hi; i++) want.push(i);
    if (this.current >= 0 && this.current < g.n && (this.current < lo || this.current >= hi)) want.push(this.current);
    const add = [];
    for (const i of want) {
      let li = this.rows.get(i);
      if (!li) {
        li = this.pool.pop() || this.makeRow();
        this.rows.set(i, li);
        add.push(li);
      }
      li.style.top = (top + (i - first) * g.h) + 'px';
      const key = i + ':' + this.res.state[i] + ':' + g.n;
      if (li._key !== key) { li._key = key; this.paint(li, i, g.n); }
    }
    // DOM order = input order, so the list reads top down in order. New rows are
    // inserted in their places; rows already there never move (moving would blur the focused one).
    if (add.length) {
      const sorted = [...this.rows.entries()].sort((a, b) => a[0] - b[0]);
      let next = this.list.firstElementChild;
      for (const [, li] of sorted) {
        if (li === next) next = li.nextElementSibling;
        else this.list.insertBefore(li, next);
      }
    }
  }

  makeRow() {
    const li = document.createElement('li');
    li.setAttribute('role', 'listitem');
    li.tabIndex = -1;
    return li;
  }

  paint(li, i, n) {
    const r = this.res, kind = r.state[i];
    li.id = 'row-' + i;
    li.setAttribute('aria-posinset', i + 1);
    li.setAttribute('aria-setsize', n);
    const parts = [];
    let state;
    const num = r.num(i);
    if (kind === ERROR) {
      state = 'error';
      parts.push(span('num', num), ' ', span('sr-only', 'error: '), span('msg', r.errorOf.get(i)));
    } else if (kind === QUEUED || kind === SENT) {
      state = 'pending';
      parts.push(span('num', num), ' ', span('dots note', kind === SENT ? '…' : 'waiting…'));
    } else if (kind === UNIT) {
      state = 'unit';
      parts.push(span('num', num), ' ', span('note', 'has no prime factors'));
    } else if (kind === PRIME) {
      state = 'prime';
      parts.push(span('num', num), ' ', span('note', 'is prime'));
    } else if (kind === COMPOSITE) {
      state = 'composite';
      parts.push(span('num', num), ' = ', ...factorNodes(r.factors(i).split(' ')));
    }
    li.className = 'row ' + state;
    li.dataset.state = state;
    li.dataset.index = i;
    li.replaceChildren(...parts);
  }

  // Text of the rows fully in view, one a line.
  visibleText() {
    const g = this.geometry(), t = this.view.scrollTop * g.k;
    const lo = Math.max(0, Math.ceil(t / g.h - 0.01)), hi = Math.min(g.n, Math.floor((t + g.viewH) / g.h + 0.01));
    const out = [];
    for (let i = lo; i < hi; i++) out.push(rowText(this.res, i));
    return out.join('\n');
  }

  key(ev) {
    const n = this.res.count;
    if (!n) return;
    const g = this.geometry(), page = Math.max(1, Math.floor(g.viewH / g.h) - 1);
    const cur = this.current >= 0 && this.current < n ? this.current : Math.floor(this.view.scrollTop * g.k / g.h);
    let to;
    switch (ev.key) {
      case 'ArrowDown': to = cur + (this.current < 0 ? 0 : 1); break;
      case 'ArrowUp': to = cur - 1; break;
      case 'PageDown': to = cur + page; break;
      case 'PageUp': to = cur - page; break;
      case 'Home': to = 0; break;
      case 'End': to = n - 1; break;
      default: return;
    }
    ev.preventDefault();
    this.focusRow(Math.max(0, Math.min(n - 1, to)));
  }

  focusRow(i) {
    this.follow = false;
    this.current = i;
    this.reveal(i);
    this.render();
    this.rows.get(i)?.focus({ preventScroll: true });
  }

  reset() {
    this.current = -1;
    this.follow = true;
    for (const li of this.rows.values()) { li._key = ''; this.pool.push(li); }
    this.rows.clear();
    this.list.replaceChildren();
    this.ourTop = 0;
    this.view.scrollTop = 0;
  }
}

// "360 = 2³ × 3² × 5", "97 is prime", "1 has no prime factors", "-5: error".
export function rowText(r, i) {
  const e = r.entry(i);
  if (e.error !== undefined) return e.num + ' error: ' + e.error;
  if (!e.factors) return e.num + ' …';
  if (e.kind === UNIT) return e.num + ' has no prime factors';
  if (e.kind === PRIME) return e.num + ' is prime';
  return e.num + ' = ' + powers(e.factors).map(([p, k]) => p + (k > 1 ? superscript(k) : '')).join(' × ');
}

// ["2","2","2","3","3","5"] -> [["2",3],["3",2],["5",1]] (factors arrive in non-decreasing order)
function powers(fs) {
  const out = [];
  for (let i = 0; i < fs.length;) {
    let j = i;
    while (j < fs.length && fs[j] === fs[i]) j++;
    out.push([fs[i], j - i]);
    i = j;
  }
  return out;
}

function factorNodes(fs) {
  const out = [];
  for (const [p, k] of powers(fs)) {
    if (out.length) out.push(span('op', ' × '));
    out.push(span('f', p + (k > 1 ? superscript(k) : '')));
  }
  return out;
}

const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';
const superscript = (k) => String(k).replace(/[0-9]/g, (d) => SUP[d]);

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}
