/**
 * Insights' charts as SVG text, drawn on the server (issue 28): no chart library, no script, no
 * style sheet — presentation attributes only — so the inbox shows them as images under its strict
 * CSP (img-src data:). Every name in them comes from evidence and is escaped.
 */
import type { Figures, Timing } from '../common/insights/report';

const OUTCOME_COLOURS: [key: keyof Figures['outcomes'], label: string, colour: string][] = [
  ['auto_allowed', 'auto-allowed', '#2e7d32'],
  ['policy_denied', 'denied by policy', '#6a1b9a'],
  ['invalid', 'invalid', '#8d6e63'],
  ['approved', 'approved', '#66bb6a'],
  ['denied', 'denied', '#e53935'],
  ['changes_requested', 'changes', '#fb8c00'],
  ['expired', 'expired', '#757575'],
  ['cancelled', 'cancelled', '#bdbdbd'],
];
const FONT = 'font-family="system-ui, sans-serif" font-size="12" fill="#222"';
const MAX_ROWS = 12;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const clip = (text: string, n = 28) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function svg(width: number, height: number, title: string, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img"><title>${escapeXml(title)}</title><rect width="${width}" height="${height}" fill="#fff"/>${body.join('')}</svg>`;
}

/** One stacked bar per action: how its requests ended. */
export function outcomesByActionChart(rows: Figures['byAction']): string {
  const shown = rows.slice(0, MAX_ROWS);
  const max = Math.max(1, ...shown.map((r) => r.requests));
  const [left, barW, rowH, top] = [200, 440, 26, 44];
  const body: string[] = [];
  let x = 10;
  for (const [, label, colour] of OUTCOME_COLOURS) {
    body.push(`<rect x="${x}" y="10" width="12" height="12" fill="${colour}"/><text x="${x + 16}" y="21" ${FONT}>${label}</text>`);
    x += 24 + label.length * 6.5;
  }
  shown.forEach((r, i) => {
    const y = top + i * rowH;
    body.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end" ${FONT}>${escapeXml(clip(r.action))}</text>`);
    let at = left;
    for (const [key, label, colour] of OUTCOME_COLOURS) {
      const n = r[key];
      if (!n) continue;
      const w = (n / max) * barW;
      body.push(`<rect x="${at.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${colour}"><title>${escapeXml(`${r.action}: ${n} ${label}`)}</title></rect>`);
      at += w;
    }
    body.push(`<text x="${(at + 6).toFixed(1)}" y="${y + 15}" ${FONT}>${r.requests}</text>`);
  });
  if (!shown.length) body.push(`<text x="10" y="${top + 15}" ${FONT}>No requests in this window.</text>`);
  return svg(left + barW + 60, top + Math.max(1, shown.length) * rowH + 10, 'Outcomes by action', body);
}

/** p50 and p90 bars per row (a reviewer or a group), in seconds; flagged rows in red. */
export function timingChart(title: string, rows: ({ name: string; flagged?: boolean } & Timing)[]): string {
  const shown = rows.slice(0, MAX_ROWS);
  const max = Math.max(1, ...shown.map((r) => r.p90Ms));
  const [left, barW, rowH, top] = [160, 420, 34, 36];
  const body: string[] = [
    `<rect x="10" y="10" width="12" height="12" fill="#1e88e5"/><text x="26" y="21" ${FONT}>p50</text>`,
    `<rect x="64" y="10" width="12" height="12" fill="#90caf9"/><text x="80" y="21" ${FONT}>p90</text>`,
    ...(shown.some((r) => r.flagged) ? [`<rect x="118" y="10" width="12" height="12" fill="#e53935"/><text x="134" y="21" ${FONT}>flagged: looks like rubber-stamping</text>`] : []),
  ];
  const secs = (ms: number) => (ms < 10_000 ? `${Math.round(ms / 100) / 10} s` : ms < 600_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);
  shown.forEach((r, i) => {
    const y = top + i * rowH;
    body.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end" ${FONT}>${escapeXml(clip(r.name, 22))} (${r.count})</text>`);
    body.push(`<rect x="${left}" y="${y + 4}" width="${((r.p90Ms / max) * barW).toFixed(1)}" height="11" fill="${r.flagged ? '#ef9a9a' : '#90caf9'}"/>`);
    body.push(`<rect x="${left}" y="${y + 15}" width="${((r.p50Ms / max) * barW).toFixed(1)}" height="11" fill="${r.flagged ? '#e53935' : '#1e88e5'}"/>`);
    body.push(`<text x="${(left + (r.p90Ms / max) * barW + 6).toFixed(1)}" y="${y + 17}" ${FONT}>${secs(r.p50Ms)} / ${secs(r.p90Ms)}</text>`);
  });
  if (!shown.length) body.push(`<text x="10" y="${top + 15}" ${FONT}>No decisions in this window.</text>`);
  return svg(left + barW + 110, top + Math.max(1, shown.length) * rowH + 8, title, body);
}

/** The charts the Insights page shows. */
export function insightsCharts(f: Figures): Record<string, string> {
  return {
    outcomesByAction: outcomesByActionChart(f.byAction),
    reviewerTimes: timingChart('Time from shown to decided, per reviewer', f.reviewers.map((r) => ({ name: r.reviewer, flagged: Boolean(r.flag), count: r.count, p50Ms: r.p50Ms, p90Ms: r.p90Ms }))),
    groupTimes: timingChart('Time to decide, per group', f.timeToDecideByGroup.map((g) => ({ name: g.group, count: g.count, p50Ms: g.p50Ms, p90Ms: g.p90Ms }))),
  };
}
