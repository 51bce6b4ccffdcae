// The inbox's DOM helpers, page lifecycle, badges and formatting.
// Every string from the server (summaries, payloads, names) is untrusted: text nodes only, never HTML.
import { RISK_ORDER, WAITING_STATUSES } from './constants.js';

export const main = document.getElementById('main');
export const sessionBox = document.getElementById('session');

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'value' || key === 'checked') node[key] = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'string' ? visible(c) : c)));
  return node;
}

/**
 * Agents write summaries and payloads: invisible and direction-changing characters (zero-width
 * spaces, bidi overrides) are shown as \uXXXX, so what a reviewer reads is what the text is.
 */
const HIDDEN_CHARACTERS = /[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;
export function visible(text) {
  return text.replace(HIDDEN_CHARACTERS, (ch) => `\\u${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/** Sets text only when it changes, so live regions do not repeat themselves. */
export function setText(node, text) {
  const shown = visible(text);
  if (node.textContent !== shown) node.textContent = shown;
}

export const alertBox = () => el('p', { role: 'alert', class: 'alert', tabindex: -1 });

// ---------------------------------------------------------------- page lifecycle

let page = null;

/** The page on screen: { alive, cleanup, alert }, or null before the first. */
export const currentPage = () => page;

/** Starts a new page: ends the previous one's timers and listeners. */
export function newPage(title) {
  if (page) {
    page.alive = false;
    for (const stop of page.cleanup) stop();
  }
  page = { alive: true, cleanup: [], alert: null };
  main.replaceChildren();
  document.title = `${title} · countersign inbox`;
  return page;
}

export function every(p, ms, fn) {
  const id = setInterval(fn, ms);
  p.cleanup.push(() => clearInterval(id));
}

// ---------------------------------------------------------------- formatting

/** "45s", "3m", "1h 5m", "2d 3h". */
function span(ms) {
  const [s, m, h, d] = [ms / 1000, ms / 60e3, ms / 3600e3, ms / 86400e3].map(Math.floor);
  if (s < 60) return `${s}s`;
  if (m < 60) return `${m}m`;
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

export const msUntil = (iso) => (iso ? Date.parse(iso) - Date.now() : NaN);
export const timeLeft = (iso, ms = msUntil(iso)) => (!Number.isFinite(ms) ? 'no deadline' : ms <= 0 ? 'overdue' : span(ms));
export const age = (iso, ms = Date.now() - Date.parse(iso)) => (Number.isFinite(ms) ? span(Math.max(0, ms)) : 'unknown');

export function dateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso ?? '') : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A catalog display field's name as a label: "amount" → "Amount", "orderId" and "order_id" → "Order id". */
export function displayLabel(name) {
  const words = String(name).replace(/([a-z0-9])([A-Z])/g, '$1 $2').replaceAll('_', ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export const humanize = (code) => String(code ?? '').replaceAll('_', ' ');
export const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
export const pretty = (value) => JSON.stringify(value ?? null, null, 2);
export const requestHref = (id) => `/inbox/requests/${encodeURIComponent(id)}`;

export function resourceText(resource) {
  if (!resource || typeof resource !== 'object') return String(resource ?? '');
  return [resource.type, resource.id].filter(Boolean).join('/');
}

export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

/** Line diff as [op, line] pairs, op ' ', '-' or '+': LCS between the common prefix and suffix. */
export function lineDiff(a, b) {
  let start = 0;
  let end = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  const A = a.slice(start, a.length - end);
  const B = b.slice(start, b.length - end);
  const [n, w] = [A.length, B.length + 1];
  const out = a.slice(0, start).map((l) => [' ', l]);
  if (n * w > 4e6) return [...out, ...A.map((l) => ['-', l]), ...B.map((l) => ['+', l]), ...a.slice(a.length - end).map((l) => [' ', l])];
  const t = new Uint32Array((n + 1) * w); // t[i*w+j]: LCS length of A[i..] and B[j..]
  for (let i = n - 1; i >= 0; i--) {
    for (let j = B.length - 1; j >= 0; j--) t[i * w + j] = A[i] === B[j] ? t[(i + 1) * w + j + 1] + 1 : Math.max(t[(i + 1) * w + j], t[i * w + j + 1]);
  }
  let [i, j] = [0, 0];
  while (i < n || j < B.length) {
    if (i < n && j < B.length && A[i] === B[j]) { out.push([' ', A[i++]]); j++; }
    else if (j >= B.length || (i < n && t[(i + 1) * w + j] >= t[i * w + j + 1])) out.push(['-', A[i++]]);
    else out.push(['+', B[j++]]);
  }
  return [...out, ...a.slice(a.length - end).map((l) => [' ', l])];
}

// ---------------------------------------------------------------- badges

export function riskBadge(risk) {
  const known = RISK_ORDER.includes(risk);
  return el('span', { class: `badge risk-${known ? risk : 'unknown'}` }, known ? risk : 'unknown');
}

/** Open while it waits for a reviewer (WAITING_STATUSES, common/codes.ts). */
export const isWaiting = (status) => WAITING_STATUSES.includes(status);

export const statusBadge = (status) => el('span', { class: `badge status status-${isWaiting(status) ? 'open' : 'closed'}` }, humanize(status));
