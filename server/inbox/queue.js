// The queue: the requests waiting for this reviewer, a page at a time, live, sorted and filtered.
import { api, describe, state } from './api.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, RISK_ORDER } from './constants.js';
import { batchPanel, forget, selectBox } from './batch.js';
import { age, alertBox, displayLabel, el, every, main, msUntil, newPage, plural, requestHref, resourceText, riskBadge, setText, timeLeft } from './dom.js';

const POLL_MS = 2000;
/** Rows per queue page, and the longest page "Show more" asks for (common/paging.ts). */
const QUEUE_PAGE = DEFAULT_PAGE_SIZE;
const QUEUE_MAX_LIMIT = MAX_PAGE_SIZE;

/** Sort and filters: kept in memory while the reviewer moves between pages. */
const queuePrefs = { sort: 'left', dir: 1, group: '', risk: '' };

const LEADING = [
  { key: 'action', label: 'Action', value: (r) => String(r.action ?? '').toLowerCase() },
  { key: 'resource', label: 'Resource', value: (r) => resourceText(r.resource).toLowerCase() },
];
const TRAILING = [
  { key: 'approvals', label: 'Approvals', value: (r) => (approvalsKnown(r) ? r.approvals / Math.max(1, r.approvalsNeeded) : -1) },
  { key: 'risk', label: 'Risk', value: (r) => RISK_ORDER.indexOf(r.risk) },
  { key: 'group', label: 'Group', value: (r) => groupsText(r).toLowerCase() },
  { key: 'agent', label: 'Agent', value: (r) => String(r.agent ?? '').toLowerCase() },
  { key: 'age', label: 'Age', value: (r) => -(Date.parse(r.startedAt) || 0) },
  { key: 'left', label: 'Time left', value: (r) => (Number.isFinite(msUntil(r.deadline)) ? Date.parse(r.deadline) : Infinity) },
];

/**
 * The catalog's display fields are columns too (derived by countersign from each payload, published by
 * its run): the union of the fields the rows on this page name, in the order first seen.
 */
let COLUMNS = [...LEADING, ...TRAILING];
const displayKey = (name) => `display:${name}`;
const displayValue = (r, name) => {
  const field = Array.isArray(r.display) ? r.display.find((f) => f && f.name === name) : undefined;
  return typeof field?.value === 'string' ? field.value : '';
};
const approvalsKnown = (r) => Number.isInteger(r.approvals) && Number.isInteger(r.approvalsNeeded);
/** "1/2": approvals so far of those the route needs (blank for a run from before queue-memo). */
const approvalsText = (r) => (approvalsKnown(r) ? `${r.approvals}/${r.approvalsNeeded}` : '');

function displayNames(requests) {
  const names = [];
  for (const r of requests) {
    for (const f of Array.isArray(r?.display) ? r.display : []) if (f && typeof f.name === 'string' && !names.includes(f.name)) names.push(f.name);
  }
  return names;
}

function columnsFor(names) {
  return [...LEADING, ...names.map((name) => ({ key: displayKey(name), label: displayLabel(name), display: name, value: (r) => displayValue(r, name).toLowerCase() })), ...TRAILING];
}

const groupsText = (r) => (Array.isArray(r.groups) ? r.groups.join(', ') : String(r.groups ?? ''));

function compareRows(a, b) {
  const column = COLUMNS.find((c) => c.key === queuePrefs.sort) ?? COLUMNS.find((c) => c.key === 'left');
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

export function showQueue(focus) {
  const p = newPage('Requests waiting');
  p.alert = alertBox();
  // The server answers a page at a time (newest first); "Show more" asks for a longer page, up to QUEUE_MAX_LIMIT.
  const q = { p, rows: new Map(), groups: null, loaded: false, limit: QUEUE_PAGE, more: false, names: [] };
  COLUMNS = columnsFor(q.names);
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
  q.headRow = el('tr', {}, q.headers.map((h) => h.th));
  q.wrap = el('div', { class: 'table-wrap', hidden: true }, el('table', { class: 'queue' },
    el('caption', {}, 'Requests waiting for you'), el('thead', {}, q.headRow), q.tbody));

  // The group is filtered by the server: with a long queue, another group's requests may not be on the page at all.
  const group = filterSelect('filter-group', 'Group', (value) => { queuePrefs.group = value; q.limit = QUEUE_PAGE; layoutQueue(q); refreshQueue(q, { force: true }); });
  q.groupSelect = group.select;
  const risk = filterSelect('filter-risk', 'Risk', (value) => { queuePrefs.risk = value; layoutQueue(q); });
  risk.select.append(el('option', { value: '' }, 'All risks'), ...RISK_ORDER.map((r) => el('option', { value: r }, r)));
  risk.select.value = queuePrefs.risk;
  fillGroupOptions(q, state.me?.groups ?? []);

  // Ticked rows are approved together with one passkey signature (batch.js).
  q.batch = batchPanel(() => refreshQueue(q, { force: true }));
  main.append(q.heading, el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter requests', onsubmit: (e) => e.preventDefault() }, group.wrap, risk.wrap),
    q.count, p.alert, q.shown, q.note, q.wrap, q.batch.el, q.moreNote, q.moreButton);
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
  const names = displayNames(requests);
  if (names.join('\n') !== q.names.join('\n')) setDisplayColumns(q, names);
  const seen = new Set();
  for (const r of requests) {
    if (!r || typeof r.requestId !== 'string' || seen.has(r.requestId)) continue;
    seen.add(r.requestId);
    let row = q.rows.get(r.requestId);
    if (!row) q.rows.set(r.requestId, (row = queueRow(r.requestId, q.names, selectBox(q.batch, r.requestId, r.requestId))));
    fillRow(row, r);
  }
  for (const id of q.rows.keys()) {
    if (seen.has(id)) continue;
    q.rows.delete(id);
    forget(q.batch, id);
  }
  q.loaded = true;
  layoutQueue(q);
  tickQueue(q);
}

const cell = (label, ...children) => el('td', { 'data-label': label }, ...children);

function queueRow(id, names, select) {
  const row = {
    select,
    link: el('a', { href: requestHref(id), class: 'action-link' }),
    escalated: el('span', { class: 'badge status-escalated' }, 'escalated'),
    summary: el('span', { class: 'summary', title: 'The agent’s own words' }),
    risk: el('td', { 'data-label': 'Risk' }),
    resource: cell('Resource'), approvals: cell('Approvals'), group: cell('Group'), agent: cell('Agent'), age: cell('Age'), left: cell('Time left'),
  };
  row.actionCell = el('td', { class: 'action-cell' }, el('span', { class: 'action-line' }, row.select, ' ', row.link, ' ', row.escalated), row.summary);
  row.tr = el('tr', { 'data-request-id': id });
  layoutRow(row, names);
  return row;
}

/** A row's cells for these display columns: the fixed cells are kept, the display cells made anew. */
function layoutRow(row, names) {
  row.displayCells = new Map(names.map((name) => [name, el('td', { class: 'display-cell', 'data-label': displayLabel(name), 'data-display': name })]));
  row.approvals.classList.add('approvals-cell');
  row.tr.replaceChildren(row.actionCell, row.resource, ...row.displayCells.values(), row.approvals, row.risk, row.group, row.agent, row.age, row.left);
  if (row.data) fillDisplay(row, row.data);
}

/** The page names other display fields: new headers, and every row's cells for them. */
function setDisplayColumns(q, names) {
  q.names = names;
  COLUMNS = columnsFor(names);
  if (!COLUMNS.some((c) => c.key === queuePrefs.sort)) Object.assign(queuePrefs, { sort: 'left', dir: 1 });
  q.headers = COLUMNS.map((column) => sortHeader(q, column));
  q.headRow.replaceChildren(...q.headers.map((h) => h.th));
  updateSortHeaders(q);
  for (const row of q.rows.values()) layoutRow(row, names);
}

function fillDisplay(row, r) {
  for (const [name, td] of row.displayCells) setText(td, displayValue(r, name));
}

function fillRow(row, r) {
  const before = row.data;
  row.data = r;
  setText(row.link, String(r.action || '(no action)'));
  row.select.setAttribute('aria-label', `Select ${r.action || 'request'} on ${resourceText(r.resource)} (request ${r.requestId})`);
  row.escalated.hidden = r.status !== 'escalated';
  setText(row.summary, String(r.summary ?? ''));
  row.summary.hidden = !r.summary;
  setText(row.resource, resourceText(r.resource));
  fillDisplay(row, r);
  setText(row.approvals, approvalsText(r));
  if (approvalsKnown(r)) row.approvals.setAttribute('aria-label', `${r.approvals} of ${r.approvalsNeeded} approvals`);
  else row.approvals.removeAttribute('aria-label');
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
