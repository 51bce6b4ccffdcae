// countersign reviewer inbox: one shell, routed by location.pathname. See docs/inbox.md for the API.
// Every string from the server (summaries, payloads, names) is untrusted: text nodes only, never HTML.

const main = document.getElementById('main');
const sessionBox = document.getElementById('session');

const RISKS = ['low', 'medium', 'high', 'critical'];
const OPEN_STATUSES = ['pending', 'escalated'];
const REASON_CODES = ['NOT_JUSTIFIED', 'AMOUNT_TOO_HIGH', 'WRONG_RESOURCE', 'NEEDS_MORE_CONTEXT', 'SUSPECTED_PROMPT_INJECTION'];
const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;
const POLL_MS = 2000;
/** Rows per queue page, and the longest page "Show more" asks for (the server allows 500). */
const QUEUE_PAGE = 100;
const QUEUE_MAX_LIMIT = 500;

/** Session and page state. The CSRF token lives in memory only. */
const state = { me: null, csrf: null };
let page = null;
let renderSeq = 0;
let renderedPath = null;
let invite = null; // { reviewer, token } from an enrolment link's fragment
const queuePrefs = { sort: 'left', dir: 1, group: '', risk: '' };

// ---------------------------------------------------------------- DOM helpers

function el(tag, attrs = {}, ...children) {
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
function visible(text) {
  return text.replace(HIDDEN_CHARACTERS, (ch) => `\\u${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/** Sets text only when it changes, so live regions do not repeat themselves. */
function setText(node, text) {
  const shown = visible(text);
  if (node.textContent !== shown) node.textContent = shown;
}

const alertBox = () => el('p', { role: 'alert', class: 'alert', tabindex: -1 });

/** Starts a new page: ends the previous one's timers and listeners. */
function newPage(title) {
  if (page) {
    page.alive = false;
    for (const stop of page.cleanup) stop();
  }
  page = { alive: true, cleanup: [], alert: null };
  main.replaceChildren();
  document.title = `${title} · countersign inbox`;
  return page;
}

function every(p, ms, fn) {
  const id = setInterval(fn, ms);
  p.cleanup.push(() => clearInterval(id));
}

// ---------------------------------------------------------------- API client

/** An RFC 9457 problem answer (status 0: the server could not be reached). */
class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `The server answered with status ${status}.`);
    Object.assign(this, { status, code: body?.code });
  }
}

/** JSON fetch. A 401 ends the session and shows the sign-in view, unless signInOn401 is false. */
async function api(path, { method = 'GET', body, signInOn401 = true } = {}) {
  const headers = { accept: 'application/json, application/problem+json' };
  const init = { method, credentials: 'same-origin', headers, cache: 'no-store' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (state.csrf) headers['x-countersign-csrf'] = state.csrf;
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(path, init).catch(() => {
    throw new Problem(0, { detail: 'The inbox server could not be reached: check your connection and try again.' });
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  const problem = new Problem(res.status, data);
  if (res.status === 401 && signInOn401) showSignIn(problem.message);
  throw problem;
}

const post = (path, body, signInOn401 = true) => api(path, { method: 'POST', body, signInOn401 });

function webauthn() {
  const lib = globalThis.SimpleWebAuthnBrowser;
  if (!lib) throw new Error('The passkey library did not load: reload the page.');
  if (!lib.browserSupportsWebAuthn()) throw new Error('This browser does not support passkeys.');
  return lib;
}

/** One sentence for the reviewer, whatever failed. */
function describe(err) {
  if (err instanceof Problem) return err.message;
  if (err?.name === 'NotAllowedError') return 'The passkey prompt was cancelled or timed out: try again.';
  if (err?.name === 'InvalidStateError') return 'This authenticator already holds a passkey for this inbox.';
  return err?.message || 'Something went wrong: try again.';
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

const msUntil = (iso) => (iso ? Date.parse(iso) - Date.now() : NaN);
const timeLeft = (iso, ms = msUntil(iso)) => (!Number.isFinite(ms) ? 'no deadline' : ms <= 0 ? 'overdue' : span(ms));
const age = (iso, ms = Date.now() - Date.parse(iso)) => (Number.isFinite(ms) ? span(Math.max(0, ms)) : 'unknown');

function dateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso ?? '') : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

const humanize = (code) => String(code ?? '').replaceAll('_', ' ');
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const pretty = (value) => JSON.stringify(value ?? null, null, 2);
const requestHref = (id) => `/inbox/requests/${encodeURIComponent(id)}`;

function resourceText(resource) {
  if (!resource || typeof resource !== 'object') return String(resource ?? '');
  return [resource.type, resource.id].filter(Boolean).join('/');
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

/** Line diff as [op, line] pairs, op ' ', '-' or '+': LCS between the common prefix and suffix. */
function lineDiff(a, b) {
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

function riskBadge(risk) {
  const known = RISKS.includes(risk);
  return el('span', { class: `badge risk-${known ? risk : 'unknown'}` }, known ? risk : 'unknown');
}

const statusBadge = (status) => el('span', { class: `badge status status-${OPEN_STATUSES.includes(status) ? 'open' : 'closed'}` }, humanize(status));

// ---------------------------------------------------------------- session, header and routing

function setSession(me) {
  state.me = { reviewer: me.reviewer, groups: me.groups ?? [] };
  state.csrf = me.csrf ?? null;
  renderSession();
}

function renderSession() {
  sessionBox.replaceChildren(...(state.me ? [
    el('p', { class: 'who' }, 'Signed in as ', el('strong', {}, state.me.reviewer)),
    el('button', { type: 'button', class: 'button secondary', onclick: signOut }, 'Sign out')] : []));
}

async function signOut() {
  try {
    await post('/v1/inbox/logout', {}, false);
  } catch (err) {
    if (err.status !== 401) {
      if (page?.alert) { setText(page.alert, `Signing out failed: ${describe(err)}`); page.alert.focus(); }
      return;
    }
  }
  showSignIn();
  main.querySelector('h1')?.focus();
}

function currentRoute() {
  const path = location.pathname.replace(/\/+$/, '');
  if (path === '/inbox/enroll') return { name: 'enroll' };
  const match = /^\/inbox\/requests\/([^/]+)$/.exec(path);
  if (match) {
    try { return { name: 'request', id: decodeURIComponent(match[1]) }; } catch { return { name: 'request', id: match[1] }; }
  }
  return { name: 'queue' };
}

async function render({ focus = false } = {}) {
  const seq = ++renderSeq;
  renderedPath = location.pathname;
  const route = currentRoute();
  if (route.name === 'enroll') return showEnroll();
  if (!state.me) {
    const signedIn = await loadSession();
    if (seq !== renderSeq || signedIn === null) return;
    if (!signedIn) return showSignIn();
  }
  if (route.name === 'request') showRequest(route.id, focus);
  else showQueue(focus);
}

/** true when signed in, false when not; when the check itself fails, the sign-in view shows why. */
async function loadSession() {
  try {
    setSession(await api('/v1/inbox/me', { signInOn401: false }));
    return true;
  } catch (err) {
    if (err.status !== 401) showSignIn(describe(err));
    return err.status === 401 ? false : null;
  }
}

/** In-app links swap the page without a reload, so the session and queue settings stay in memory. */
function onLinkClick(event) {
  const link = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !/^\/inbox(\/|$)/.test(url.pathname) || url.pathname.startsWith('/inbox/assets/') || url.hash) return;
  event.preventDefault();
  if (url.pathname !== location.pathname) history.pushState(null, '', url.pathname);
  render({ focus: true });
}

// ---------------------------------------------------------------- sign-in and enrolment

/** A button that runs a passkey ceremony: disabled while it runs; a failure goes to the page's alert. */
function ceremonyButton(p, label, run) {
  const button = el('button', { type: 'button', class: 'button primary' }, label);
  button.addEventListener('click', async () => {
    setText(p.alert, '');
    button.disabled = true;
    try {
      await run(button);
    } catch (err) {
      if (!p.alive) return;
      button.disabled = false;
      setText(p.alert, describe(err));
      button.focus();
    }
  });
  return button;
}

function showSignIn(notice) {
  state.me = null;
  state.csrf = null;
  renderSession();
  const p = newPage('Sign in');
  p.alert = alertBox();
  const button = ceremonyButton(p, 'Sign in with a passkey', async () => {
    const { options, ticket } = await post('/v1/inbox/login/options', {}, false);
    const response = await webauthn().startAuthentication({ optionsJSON: options });
    const me = await post('/v1/inbox/login', { ticket, response }, false);
    if (!p.alive) return;
    setSession(me);
    render({ focus: true });
  });
  main.append(el('section', { class: 'card narrow', 'aria-labelledby': 'signin-title' },
    el('h1', { id: 'signin-title', tabindex: -1 }, 'Sign in'),
    el('p', {}, 'Use the passkey you enrolled for this inbox. There is no password.'),
    p.alert, button));
  if (notice) setText(p.alert, notice);
}

/** Reads the invite from the fragment once, then removes it from the address bar (it stays in memory). */
function takeInvite() {
  if (!location.hash) return;
  const params = new URLSearchParams(location.hash.slice(1));
  invite = { reviewer: params.get('reviewer') ?? '', token: params.get('token') ?? '' };
  history.replaceState(history.state, '', location.pathname + location.search);
}

function showEnroll() {
  takeInvite();
  const p = newPage('Create your passkey');
  p.alert = alertBox();
  const status = el('p', { role: 'status', class: 'status-msg', tabindex: -1 });
  const card = el('section', { class: 'card narrow', 'aria-labelledby': 'enroll-title' }, el('h1', { id: 'enroll-title', tabindex: -1 }, 'Create your passkey'));
  main.append(card);
  if (!invite?.reviewer || !invite?.token) {
    card.append(p.alert);
    setText(p.alert, 'This enrolment link is incomplete: ask your operator for a new one.');
    return;
  }
  const { reviewer, token } = invite;
  const button = ceremonyButton(p, 'Create passkey', async () => {
    const { options, ticket } = await post('/v1/inbox/enroll/options', { reviewer, token }, false);
    const response = await webauthn().startRegistration({ optionsJSON: options });
    const answer = await post('/v1/inbox/enroll', { reviewer, token, ticket, response }, false);
    if (!p.alive) return;
    setText(status, answer?.message || `Passkey created: ask your operator to run countersign reviewers confirm ${reviewer}.`);
    if (answer?.fingerprint) {
      // The operator confirms this fingerprint, heard from the reviewer: a passkey made from an intercepted link has another.
      status.after(el('p', { class: 'fingerprint' }, 'Your passkey\'s fingerprint: ', el('strong', { id: 'passkey-fingerprint' }, answer.fingerprint)));
    }
    button.remove(); // the invite is spent
    status.focus();
  });
  card.append(
    el('p', { class: 'lead' }, `for reviewer ${reviewer}`),
    el('p', {}, 'Your device will ask you to create a passkey for this inbox. It signs you in and signs every decision you make.'),
    p.alert, status, button);
}

// ---------------------------------------------------------------- queue

const COLUMNS = [
  { key: 'action', label: 'Action', value: (r) => String(r.action ?? '').toLowerCase() },
  { key: 'resource', label: 'Resource', value: (r) => resourceText(r.resource).toLowerCase() },
  { key: 'risk', label: 'Risk', value: (r) => RISKS.indexOf(r.risk) },
  { key: 'group', label: 'Group', value: (r) => groupsText(r).toLowerCase() },
  { key: 'agent', label: 'Agent', value: (r) => String(r.agent ?? '').toLowerCase() },
  { key: 'age', label: 'Age', value: (r) => -(Date.parse(r.startedAt) || 0) },
  { key: 'left', label: 'Time left', value: (r) => (Number.isFinite(msUntil(r.deadline)) ? Date.parse(r.deadline) : Infinity) },
];

const groupsText = (r) => (Array.isArray(r.groups) ? r.groups.join(', ') : String(r.groups ?? ''));

function compareRows(a, b) {
  const column = COLUMNS.find((c) => c.key === queuePrefs.sort) ?? COLUMNS[6];
  const x = column.value(a.data);
  const y = column.value(b.data);
  const order = typeof x === 'string' ? x.localeCompare(y) : x === y ? 0 : x < y ? -1 : 1;
  return order * queuePrefs.dir || a.data.requestId.localeCompare(b.data.requestId);
}

const matchesFilters = (r) => (!queuePrefs.group || (r.groups ?? []).includes(queuePrefs.group)) && (!queuePrefs.risk || r.risk === queuePrefs.risk);

function filterSelect(id, label, onChange) {
  const select = el('select', { id, onchange: () => onChange(select.value) });
  return { select, wrap: el('div', { class: 'field inline' }, el('label', { for: id }, label), select) };
}

function showQueue(focus) {
  const p = newPage('Requests waiting');
  p.alert = alertBox();
  // The server answers a page at a time (newest first); "Show more" asks for a longer page, up to QUEUE_MAX_LIMIT.
  const q = { p, rows: new Map(), groups: null, loaded: false, limit: QUEUE_PAGE, more: false };
  q.heading = el('h1', { tabindex: -1 }, 'Your queue');
  q.count = el('p', { role: 'status', class: 'count' });
  q.note = el('p', { class: 'empty' }, 'Loading requests…');
  q.shown = el('p', { class: 'hint' });
  q.moreNote = el('p', { class: 'hint', hidden: true });
  q.moreButton = el('button', { type: 'button', class: 'button secondary', hidden: true, onclick: () => {
    q.limit = Math.min(QUEUE_MAX_LIMIT, q.limit + QUEUE_PAGE);
    refreshQueue(q, { force: true });
  } }, `Show ${QUEUE_PAGE} more`);
  q.tbody = el('tbody');
  q.headers = COLUMNS.map((column) => sortHeader(q, column));
  q.wrap = el('div', { class: 'table-wrap', hidden: true }, el('table', { class: 'queue' },
    el('caption', {}, 'Requests waiting for you'), el('thead', {}, el('tr', {}, q.headers.map((h) => h.th))), q.tbody));

  // The group is filtered by the server: with a long queue, another group's requests may not be on the page at all.
  const group = filterSelect('filter-group', 'Group', (value) => { queuePrefs.group = value; q.limit = QUEUE_PAGE; layoutQueue(q); refreshQueue(q, { force: true }); });
  q.groupSelect = group.select;
  const risk = filterSelect('filter-risk', 'Risk', (value) => { queuePrefs.risk = value; layoutQueue(q); });
  risk.select.append(el('option', { value: '' }, 'All risks'), ...RISKS.map((r) => el('option', { value: r }, r)));
  risk.select.value = queuePrefs.risk;
  fillGroupOptions(q, state.me?.groups ?? []);

  main.append(q.heading, el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter requests', onsubmit: (e) => e.preventDefault() }, group.wrap, risk.wrap),
    q.count, p.alert, q.shown, q.note, q.wrap, q.moreNote, q.moreButton);
  updateSortHeaders(q);

  const refresh = () => refreshQueue(q);
  every(p, POLL_MS, () => { if (!document.hidden) refresh(); });
  every(p, 1000, () => tickQueue(q));
  const onVisible = () => { if (!document.hidden) refresh(); };
  document.addEventListener('visibilitychange', onVisible);
  p.cleanup.push(() => document.removeEventListener('visibilitychange', onVisible));
  refresh();
  if (focus) q.heading.focus();
}

function sortHeader(q, column) {
  const arrow = el('span', { class: 'sort-arrow', 'aria-hidden': 'true' });
  const button = el('button', { type: 'button', class: 'sort', onclick: () => {
    if (queuePrefs.sort === column.key) queuePrefs.dir = -queuePrefs.dir;
    else Object.assign(queuePrefs, { sort: column.key, dir: 1 });
    updateSortHeaders(q);
    layoutQueue(q);
  } }, column.label, arrow);
  return { key: column.key, th: el('th', { scope: 'col' }, button), arrow };
}

function updateSortHeaders(q) {
  for (const h of q.headers) {
    const active = h.key === queuePrefs.sort;
    if (active) h.th.setAttribute('aria-sort', queuePrefs.dir > 0 ? 'ascending' : 'descending');
    else h.th.removeAttribute('aria-sort');
    setText(h.arrow, active ? (queuePrefs.dir > 0 ? '▲' : '▼') : '↕');
  }
}

function fillGroupOptions(q, groups) {
  const key = JSON.stringify(groups);
  if (q.groups === key) return;
  q.groups = key;
  if (queuePrefs.group && !groups.includes(queuePrefs.group)) queuePrefs.group = '';
  q.groupSelect.replaceChildren(el('option', { value: '' }, 'All groups'), ...groups.map((g) => el('option', { value: g }, g)));
  q.groupSelect.value = queuePrefs.group;
}

async function refreshQueue(q, { force = false } = {}) {
  if (!q.p.alive) return;
  if (q.inFlight) {
    // A filter or the page size changed while a refresh was out: ask again once it is back.
    if (force) q.again = true;
    return;
  }
  q.inFlight = true;
  try {
    const asked = { limit: q.limit, group: queuePrefs.group };
    const query = new URLSearchParams({ limit: String(asked.limit) });
    if (asked.group) query.set('group', asked.group);
    const data = await api(`/v1/reviews?${query}`);
    if (!q.p.alive) return;
    // The filter or the page size changed while this was out: its answer is for a question no longer asked.
    if (asked.limit !== q.limit || asked.group !== queuePrefs.group) return;
    setText(q.p.alert, '');
    q.more = typeof data?.nextCursor === 'string';
    syncQueue(q, data);
  } catch (err) {
    if (q.p.alive) setText(q.p.alert, describe(err));
  } finally {
    q.inFlight = false;
    if (q.again) {
      q.again = false;
      refreshQueue(q);
    }
  }
}

/** Merges a fresh answer into the rows we have: new ones appear, gone ones leave, the rest update in place. */
function syncQueue(q, data) {
  // With a group chosen, the server's answer names only that group: the choices stay all of ours.
  if (!queuePrefs.group) fillGroupOptions(q, Array.isArray(data?.groups) ? data.groups : []);
  const requests = Array.isArray(data?.requests) ? data.requests : [];
  const seen = new Set();
  for (const r of requests) {
    if (!r || typeof r.requestId !== 'string' || seen.has(r.requestId)) continue;
    seen.add(r.requestId);
    let row = q.rows.get(r.requestId);
    if (!row) q.rows.set(r.requestId, (row = queueRow(r.requestId)));
    fillRow(row, r);
  }
  for (const id of q.rows.keys()) if (!seen.has(id)) q.rows.delete(id);
  q.loaded = true;
  layoutQueue(q);
  tickQueue(q);
}

function queueRow(id) {
  const cell = (label, ...children) => el('td', { 'data-label': label }, ...children);
  const row = {
    link: el('a', { href: requestHref(id), class: 'action-link' }),
    escalated: el('span', { class: 'badge status-escalated' }, 'escalated'),
    summary: el('span', { class: 'summary' }),
    risk: el('td', { 'data-label': 'Risk' }),
    resource: cell('Resource'), group: cell('Group'), agent: cell('Agent'), age: cell('Age'), left: cell('Time left'),
  };
  row.tr = el('tr', { 'data-request-id': id },
    el('td', { class: 'action-cell' }, el('span', { class: 'action-line' }, row.link, ' ', row.escalated), row.summary),
    row.resource, row.risk, row.group, row.agent, row.age, row.left);
  return row;
}

function fillRow(row, r) {
  const before = row.data;
  row.data = r;
  setText(row.link, String(r.action || '(no action)'));
  row.escalated.hidden = r.status !== 'escalated';
  setText(row.summary, String(r.summary ?? ''));
  row.summary.hidden = !r.summary;
  setText(row.resource, resourceText(r.resource));
  setText(row.group, groupsText(r));
  setText(row.agent, String(r.agent ?? ''));
  if (before?.risk !== r.risk || !row.risk.firstChild) row.risk.replaceChildren(riskBadge(r.risk));
}

function tickQueue(q) {
  for (const row of q.rows.values()) {
    const ms = msUntil(row.data.deadline);
    setText(row.age, age(row.data.startedAt));
    setText(row.left, timeLeft(row.data.deadline));
    row.left.classList.toggle('overdue', ms <= 0);
    row.left.classList.toggle('soon', ms > 0 && ms < 5 * 60e3);
  }
}

/** Puts the visible rows in order, moving only the rows that are out of place, and keeps keyboard focus. */
function layoutQueue(q) {
  const focused = document.activeElement;
  const focusedRow = focused instanceof Element && q.tbody.contains(focused) ? focused.closest('tr') : null;
  const focusedIndex = focusedRow ? [...q.tbody.rows].indexOf(focusedRow) : -1;

  const visible = [...q.rows.values()].filter((row) => matchesFilters(row.data)).sort(compareRows);
  const keep = new Set(visible.map((row) => row.tr));
  for (const tr of [...q.tbody.rows]) if (!keep.has(tr)) tr.remove();
  visible.forEach((row, i) => { if (q.tbody.rows[i] !== row.tr) q.tbody.insertBefore(row.tr, q.tbody.rows[i] ?? null); });

  const total = q.rows.size;
  setText(q.count, q.loaded ? `${q.more ? `The newest ${total} requests` : plural(total, 'request')} waiting${queuePrefs.group ? ` for ${queuePrefs.group}` : ''}` : '');
  setText(q.moreNote, q.more ? (q.limit < QUEUE_MAX_LIMIT ? 'More requests may wait than this page shows.' : `${QUEUE_MAX_LIMIT} requests are shown and more may wait: choose a group, or page through them all with countersign review list --cursor.`) : '');
  q.moreNote.hidden = !q.more;
  q.moreButton.hidden = !(q.more && q.limit < QUEUE_MAX_LIMIT);
  document.title = `Requests waiting (${total}) · countersign inbox`;
  setText(q.note, !q.loaded ? 'Loading requests…' : total === 0 ? 'Nothing is waiting for you.' : visible.length === 0 ? 'No requests match these filters.' : '');
  q.note.hidden = !q.note.textContent;
  setText(q.shown, visible.length && visible.length < total ? `Showing ${visible.length} of ${total}.` : '');
  q.shown.hidden = !q.shown.textContent;
  q.wrap.hidden = visible.length === 0;

  if (focusedRow && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  else if (focusedRow && !focused.isConnected) {
    const next = q.tbody.rows[Math.min(focusedIndex, q.tbody.rows.length - 1)];
    (next?.querySelector('a') ?? q.heading).focus({ preventScroll: true });
  }
}

// ---------------------------------------------------------------- one request

function showRequest(id, focus) {
  const p = newPage('Request');
  p.alert = alertBox();
  const ctx = {
    p, id, view: null, drafts: {}, tick: null,
    heading: el('h1', { tabindex: -1, class: 'request-title' }, 'Loading the request…'),
    status: el('p', { role: 'status', class: 'status-msg', tabindex: -1 }),
    body: el('div', { class: 'request' }),
  };
  main.append(el('p', { class: 'back' }, el('a', { href: '/inbox' }, 'Back to the queue')), ctx.heading, p.alert, ctx.status, ctx.body);
  every(p, 1000, () => ctx.tick?.());
  loadView(ctx).then(() => { if (focus && p.alive) ctx.heading.focus(); });
}

async function loadView(ctx) {
  try {
    const view = await api(`/v1/reviews/${encodeURIComponent(ctx.id)}`);
    if (!ctx.p.alive) return;
    ctx.view = view;
    renderView(ctx);
  } catch (err) {
    if (!ctx.p.alive) return;
    if (err.status === 404 || !ctx.view) {
      ctx.view = null;
      ctx.tick = null;
      setText(ctx.heading, err.status === 404 ? 'Request not found' : 'The request could not be loaded');
      ctx.body.replaceChildren();
      document.title = `${ctx.heading.textContent} · countersign inbox`;
    }
    setText(ctx.p.alert, describe(err));
  }
}

function renderView(ctx) {
  const v = ctx.view;
  const r = v.request ?? {};
  const title = String(r.summary || r.action || 'Request');
  setText(ctx.heading, title);
  document.title = `${title} · countersign inbox`;
  const open = OPEN_STATUSES.includes(v.status);
  const side = el('section', { class: 'panel decision', 'aria-labelledby': 'decision-title' }, el('h2', { id: 'decision-title' }, 'Decision'));
  if (open) side.append(decisionForm(ctx));
  else side.append(el('p', { class: 'closed' }, `This request is ${humanize(v.status)}.`));
  ctx.body.replaceChildren(
    el('div', { class: 'request-grid' }, el('div', { class: 'request-main' }, detailsSection(ctx), payloadSection(v)), side),
    historySection(v));
}

function detailsSection(ctx) {
  const v = ctx.view;
  const r = v.request ?? {};
  const policy = v.policy ?? {};
  const item = (term, ...desc) => [el('dt', {}, term), el('dd', {}, ...desc)];
  const res = r.resource ?? {};
  const resource = el('dl', { class: 'inline' }, ...[['Type', res.type], ['ID', res.id], ['Owner', res.owner], ['Environment', res.environment]]
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .flatMap(([term, value]) => item(term, String(value))));
  const names = Array.isArray(v.approvals) ? v.approvals : [];
  const countdown = el('span', { class: 'countdown' });
  ctx.tick = () => {
    const left = timeLeft(v.deadline);
    setText(countdown, left === 'overdue' ? 'overdue' : `${left} left`);
    countdown.classList.toggle('overdue', left === 'overdue');
  };
  ctx.tick();
  return el('section', { class: 'panel', 'aria-labelledby': 'details-title' },
    el('h2', { id: 'details-title' }, 'Request'),
    el('dl', { class: 'details' },
      item('Status', statusBadge(v.status)),
      item('Action', el('code', {}, String(r.action ?? ''))),
      item('Resource', resource),
      item('Agent', String(r.agentId ?? ''), r.onBehalfOf ? `, on behalf of ${r.onBehalfOf}` : ''),
      item('Risk', riskBadge(policy.risk), policy.reason ? el('span', { class: 'reason' }, String(policy.reason)) : null),
      item('Rules', ...(policy.ruleIds?.length ? policy.ruleIds.map((id) => el('code', { class: 'tag' }, String(id))) : ['none'])),
      item('Suggested group', String(policy.route?.group?.name ?? 'none')),
      item('Eligible groups', (v.eligibleGroups ?? []).join(', ') || 'none'),
      item('Approvals', `${names.length} of ${v.approvalsNeeded ?? 1}`, names.length ? `: ${names.join(', ')}` : ''),
      item('Deadline', v.deadline ? [el('time', { datetime: v.deadline }, dateTime(v.deadline)), ' (', countdown, ')'] : 'no deadline'),
      v.nextEscalation ? item('Next escalation', el('time', { datetime: v.nextEscalation }, dateTime(v.nextEscalation))) : []));
}

function payloadSection(v) {
  const current = pretty(v.currentPayload);
  const section = el('section', { class: 'panel', 'aria-labelledby': 'payload-title' },
    el('h2', { id: 'payload-title' }, 'Payload'), el('pre', { class: 'code' }, current));
  if (!deepEqual(v.request?.payload, v.currentPayload)) {
    const lines = lineDiff(pretty(v.request?.payload).split('\n'), current.split('\n'));
    section.append(
      el('h2', {}, 'Changes against the original'),
      el('p', { class: 'hint' }, 'Lines marked - are only in the agent\'s original; lines marked + are only in the version you are deciding on.'),
      el('pre', { class: 'code diff' }, lines.map(([op, line]) =>
        op === ' ' ? el('span', { class: 'diff-line diff-same' }, `  ${line}\n`)
          : el(op === '-' ? 'del' : 'ins', { class: `diff-line ${op === '-' ? 'diff-del' : 'diff-add'}` }, `${op} ${line}\n`))));
  }
  return section;
}

function historySection(v) {
  const events = Array.isArray(v.history) ? v.history : [];
  return el('section', { class: 'panel history', 'aria-labelledby': 'history-title' },
    el('h2', { id: 'history-title' }, 'History'),
    events.length ? el('ol', { class: 'history-list' }, events.map((e) => el('li', {},
      el('p', { class: 'history-head' }, el('time', { datetime: e.at }, dateTime(e.at)), ' ', el('strong', {}, humanize(e.type)), e.actor ? ` by ${e.actor}` : ''),
      e.detail ? el('p', { class: 'history-detail' }, String(e.detail)) : null)))
      : el('p', {}, 'No events yet.'));
}

// ---------------------------------------------------------------- decision panel

/** Each decision's fields: [body field, label, message when required and empty]. */
const DECISIONS = [
  { value: 'approve', label: 'Approve', fields: [['comment', 'Comment (optional)']] },
  { value: 'approve_edit', label: 'Approve with edit', fields: [['editedPayload', 'Edited payload (JSON)', 'Enter the edited payload.'], ['check'], ['comment', 'Comment (optional)']] },
  { value: 'deny', label: 'Deny', fields: [['reasonCode', 'Reason code', 'Enter a reason code, such as AMOUNT_TOO_HIGH.'], ['message', 'Message', 'Enter a message for the agent.']] },
  { value: 'request_changes', label: 'Request changes', fields: [['comment', 'Comment', 'Enter a comment saying what should change.'], ['proposedPayload', 'Proposed payload (JSON, optional)']] },
];
const isJsonField = (key) => key.endsWith('Payload');

function decisionForm(ctx) {
  const form = el('form', { class: 'decision-form', novalidate: true });
  ctx.form = {
    el: form, choice: null, controls: {},
    fields: el('div', { class: 'decision-fields' }),
    error: el('p', { role: 'alert', class: 'alert', id: 'form-error' }),
    signing: el('div', { class: 'signing', 'aria-live': 'polite' }),
    submit: el('button', { type: 'submit', class: 'button primary' }, 'Sign and submit'),
  };
  const radios = DECISIONS.map((d) => el('div', { class: 'choice' },
    el('input', { type: 'radio', name: 'decision', id: `decision-${d.value}`, value: d.value, onchange: () => chooseDecision(ctx, d) }),
    el('label', { for: `decision-${d.value}` }, d.label)));
  form.append(el('fieldset', {}, el('legend', {}, 'Your decision'), radios), ctx.form.fields, ctx.form.error, ctx.form.signing, ctx.form.submit);
  form.addEventListener('submit', (event) => { event.preventDefault(); submitDecision(ctx); });
  return form;
}

/** Renders only the chosen decision's fields; what was typed in another decision's fields is kept as a draft. */
function chooseDecision(ctx, decision) {
  const f = ctx.form;
  for (const [key, control] of Object.entries(f.controls)) ctx.drafts[`${f.choice}:${key}`] = control.value;
  f.choice = decision.value;
  f.controls = {};
  setText(f.error, '');
  f.fields.replaceChildren(...decision.fields.map(([key, label, required]) => (key === 'check' ? checkButton(ctx) : fieldFor(ctx, key, label, Boolean(required)))));
}

function fieldFor(ctx, key, label, required) {
  const id = `field-${key}`;
  const draft = ctx.drafts[`${ctx.form.choice}:${key}`];
  const json = isJsonField(key);
  let control;
  let hint = null;
  if (key === 'reasonCode') {
    hint = el('p', { id: `${id}-hint`, class: 'hint' }, 'UPPER_SNAKE_CASE, for example AMOUNT_TOO_HIGH.');
    control = el('input', { type: 'text', id, name: key, placeholder: 'AMOUNT_TOO_HIGH', pattern: UPPER_SNAKE.source, list: 'reason-codes', autocomplete: 'off',
      spellcheck: 'false', autocapitalize: 'characters', required, value: draft ?? '', 'aria-describedby': hint.id });
  } else {
    const value = draft ?? (key === 'editedPayload' ? pretty(ctx.view.currentPayload) : '');
    const rows = json ? Math.min(18, Math.max(4, value.split('\n').length + 1)) : 3;
    control = el('textarea', { id, name: key, rows, spellcheck: json ? 'false' : null, class: json ? 'mono' : null, required, value });
  }
  ctx.form.controls[key] = control;
  control.addEventListener('input', () => control.removeAttribute('aria-invalid'));
  return el('div', { class: 'field' }, el('label', { for: id }, label), hint, control,
    key === 'reasonCode' ? el('datalist', { id: 'reason-codes' }, REASON_CODES.map((code) => el('option', { value: code }))) : null);
}

function checkButton(ctx) {
  const ok = el('p', { class: 'check-ok', 'aria-live': 'polite', id: 'check-ok' });
  const error = el('p', { class: 'alert', role: 'alert', id: 'check-error' });
  const button = el('button', { type: 'button', class: 'button secondary' }, 'Check payload');
  button.addEventListener('click', async () => {
    setText(ok, '');
    setText(error, '');
    const edited = ctx.form.controls.editedPayload;
    const parsed = parseJson(edited.value);
    const problem = parsed.error ?? (await validatePayload(ctx, parsed.value));
    if (!ctx.p.alive || !button.isConnected) return;
    if (problem) {
      edited.setAttribute('aria-invalid', 'true');
      setText(error, problem);
    } else setText(ok, `The payload is valid for ${ctx.view.request?.action ?? 'this action'}.`);
  });
  return el('div', { class: 'check' }, button, ok, error);
}

function parseJson(text) {
  try { return { value: JSON.parse(text) }; } catch (err) { return { error: `The payload is not valid JSON: ${err.message}` }; }
}

/** null when the action's schema accepts the payload, else the reason. */
async function validatePayload(ctx, payload) {
  try {
    await post(`/v1/reviews/${encodeURIComponent(ctx.id)}/validate`, { payload });
    return null;
  } catch (err) {
    return describe(err);
  }
}

/** Checks the fields locally and builds the statement body (empty optional fields left out); { error, control } on a problem. */
function buildDecision(ctx) {
  const f = ctx.form;
  const decision = DECISIONS.find((d) => d.value === f.choice);
  if (!decision) return { error: 'Choose a decision first.', control: f.el.querySelector('input[name="decision"]') };
  const body = { decision: decision.value === 'approve_edit' ? 'approve' : decision.value, versionDigest: ctx.view.currentDigest };
  for (const [key, , required] of decision.fields) {
    const control = f.controls[key];
    const text = control?.value.trim();
    if (!text) {
      if (required) return { error: required, control };
      continue;
    }
    const parsed = isJsonField(key) ? parseJson(control.value) : { value: text };
    if (parsed.error) return { error: parsed.error, control };
    if (key === 'reasonCode' && !UPPER_SNAKE.test(text)) return { error: 'The reason code must be in UPPER_SNAKE_CASE, such as AMOUNT_TOO_HIGH.', control };
    body[key] = parsed.value;
  }
  if (body.editedPayload !== undefined && deepEqual(body.editedPayload, ctx.view.currentPayload)) {
    return { error: 'The edited payload is the same as the current one: choose Approve instead.', control: f.controls.editedPayload };
  }
  return { body };
}

function formError(ctx, text, control) {
  setText(ctx.form.error, text);
  if (control) {
    if (control.type !== 'radio') control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-errormessage', 'form-error');
    control.focus();
  }
}

function signingSummary(ctx, st, body) {
  const label = DECISIONS.find((d) => d.value === ctx.form.choice)?.label ?? body.decision;
  const full = typeof st.statement === 'string' ? st.statement : pretty(st.statement);
  ctx.form.signing.replaceChildren(
    el('p', {}, `You are signing: ${label} for request ${ctx.view.requestId ?? ctx.id}, version ${String(body.versionDigest ?? '').slice(0, 16)}…, as ${state.me?.reviewer ?? 'you'}, at ${dateTime(st.signedAt)}. Confirm with your passkey.`),
    el('details', {}, el('summary', {}, 'The full statement'), el('pre', { class: 'code' }, full)));
}

function receiptText(receipt) {
  const count = Array.isArray(receipt?.approvals) ? receipt.approvals.length : receipt?.approvals;
  const tally = typeof count === 'number' && typeof receipt?.approvalsNeeded === 'number' ? ` (${count} of ${receipt.approvalsNeeded} approvals)` : '';
  return `Decision recorded: ${humanize(receipt?.status ?? 'unknown')}${tally}`;
}

function resetSubmit(f) {
  f.busy = false;
  f.submit.disabled = false;
  f.signing.replaceChildren();
}

async function submitDecision(ctx) {
  const f = ctx.form;
  if (f.busy) return;
  setText(f.error, '');
  setText(ctx.p.alert, '');
  setText(ctx.status, '');
  const built = buildDecision(ctx);
  if (built.error) return formError(ctx, built.error, built.control);
  const { body } = built;
  const path = `/v1/reviews/${encodeURIComponent(ctx.id)}`;
  f.busy = true;
  f.submit.disabled = true;
  const progress = (text) => f.signing.replaceChildren(el('p', {}, text));
  try {
    if (body.editedPayload !== undefined) {
      progress('Checking the edited payload…');
      const problem = await validatePayload(ctx, body.editedPayload);
      if (problem) throw Object.assign(new Error(problem), { field: f.controls.editedPayload });
    }
    progress('Preparing the statement to sign…');
    const st = await post(`${path}/statement`, body);
    signingSummary(ctx, st, body);
    const response = await webauthn().startAuthentication({ optionsJSON: {
      challenge: st.challenge, rpId: st.passkey?.rpId, allowCredentials: st.passkey?.allowCredentials ?? [], userVerification: 'required', timeout: 120000,
    } });
    progress('Recording your decision…');
    const { authenticatorData, clientDataJSON, signature } = response.response;
    const receipt = await post(`${path}/decisions`, { ...body, signature: { signedAt: st.signedAt, passkey: { credentialId: response.id, authenticatorData, clientDataJSON, signature } } });
    if (!ctx.p.alive) return;
    setText(ctx.status, receiptText(receipt));
    await loadView(ctx);
    if (!ctx.p.alive) return;
    resetSubmit(f); // a no-op after a re-render; keeps the form usable when the re-fetch failed
    ctx.status.focus();
  } catch (err) {
    if (!ctx.p.alive) return;
    resetSubmit(f);
    if (err.field) return formError(ctx, err.message, err.field);
    const stale = err instanceof Problem && err.code === 'STALE_VERSION';
    setText(ctx.p.alert, stale ? `The request changed while you were looking: ${describe(err)}` : describe(err));
    if (stale) await loadView(ctx);
    if (ctx.p.alive) ctx.p.alert.focus();
  }
}

// ---------------------------------------------------------------- start

document.addEventListener('click', onLinkClick);
window.addEventListener('popstate', () => { if (location.pathname !== renderedPath) render({ focus: true }); });
window.addEventListener('hashchange', () => { if (location.hash && currentRoute().name === 'enroll') render(); });
render();
