/**
 * The chart of the headline ratios, as a self-contained SVG: per scenario, nodicorn's req/s divided by
 * the better Gunicorn's (sync or gthread), uWSGI's and the ceiling's, on a log scale (2× faster and 2× slower are the same
 * distance from the line at 1).
 */
import { betterGunicorn, fmt, type ScenarioSummary } from './report.js';

const SERIES = [
  {
    label: 'nodicorn ÷ the better Gunicorn (sync or gthread)',
    color: '#2b6cb0',
    pick: (s: ScenarioSummary) => s.ratios.find((r) => r.denominator === betterGunicorn(s)?.server),
  },
  {
    label: 'nodicorn ÷ uWSGI',
    color: '#38a169',
    pick: (s: ScenarioSummary) => s.ratios.find((r) => r.denominator.startsWith('uwsgi')),
  },
  {
    label: 'nodicorn ÷ bare node:http',
    color: '#dd6b20',
    pick: (s: ScenarioSummary) => s.ratios.find((r) => r.denominatorRole === 'ceiling'),
  },
] as const;

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

export function ratioChart(scenarios: readonly ScenarioSummary[], title: string): string {
  const bar = 14;
  const labelWidth = 230;
  const plotWidth = 520;
  const top = 60;
  const rows = scenarios.map((s) => ({
    name: s.scenario,
    bars: SERIES.flatMap((series) => {
      const r = series.pick(s)?.ratio;
      return r === undefined || !Number.isFinite(r) || r <= 0 ? [] : [{ series, ratio: r }];
    }),
  }));
  const all = rows.flatMap((r) => r.bars.map((b) => b.ratio));
  const lo = 2 ** Math.floor(Math.log2(Math.min(0.5, ...all)));
  const hi = 2 ** Math.ceil(Math.log2(Math.max(2, ...all)));
  const x = (ratio: number) =>
    labelWidth + ((Math.log2(ratio) - Math.log2(lo)) / (Math.log2(hi) - Math.log2(lo))) * plotWidth;
  let y = top;
  const parts: string[] = [];
  for (const row of rows) {
    const height = Math.max(1, row.bars.length) * (bar + 2) + 12;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + height / 2}" text-anchor="end" dominant-baseline="middle">${xml(row.name)}</text>`,
    );
    row.bars.forEach((b, i) => {
      const by = y + 6 + i * (bar + 2);
      const x0 = x(1);
      const x1 = x(b.ratio);
      parts.push(
        `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${by}" width="${Math.abs(x1 - x0).toFixed(1)}" height="${bar}" fill="${b.series.color}"/>`,
        `<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${by + bar / 2}" dominant-baseline="middle" font-size="11">${fmt(b.ratio, 2)}</text>`,
      );
    });
    y += height;
  }
  const grid: string[] = [];
  for (let v = lo; v <= hi; v *= 2) {
    const gx = x(v).toFixed(1);
    grid.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${y}" stroke="${v === 1 ? '#000' : '#ddd'}"/>`,
      `<text x="${gx}" y="${y + 16}" text-anchor="middle" font-size="11">${v >= 1 ? `${v}×` : `1/${1 / v}`}</text>`,
    );
  }
  const legend = SERIES.map(
    (s, i) =>
      `<rect x="${labelWidth + i * 175}" y="30" width="12" height="12" fill="${s.color}"/>` +
      `<text x="${labelWidth + i * 175 + 16}" y="40" font-size="12">${xml(s.label)}</text>`,
  );
  const width = labelWidth + plotWidth + 60;
  const height = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<title>${xml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-weight="bold">${xml(title)}</text>`,
    ...legend,
    ...grid,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
