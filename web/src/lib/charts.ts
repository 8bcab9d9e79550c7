// Pure chart data shaping (unit-tested).
import type { CostGroup, JobMetric } from '../api/types';

// One row per epoch with every numeric metric; keys are the metric names seen (except seconds).
export function metricSeries(metrics: JobMetric[]): { rows: Record<string, number>[]; keys: string[] } {
  const keys = new Set<string>();
  const byStep = new Map<number, Record<string, number>>();
  for (const m of metrics) {
    const row = byStep.get(m.step) ?? { epoch: m.step };
    for (const [k, v] of Object.entries(m.values ?? {})) {
      if (typeof v !== 'number' || !Number.isFinite(v) || k === 'seconds') continue;
      row[k] = v;
      keys.add(k);
    }
    byStep.set(m.step, row);
  }
  const rows = [...byStep.values()].sort((a, b) => a.epoch - b.epoch);
  return { rows, keys: [...keys].sort() };
}

// Loss curves first (they share a scale), then the rest.
export function splitLossKeys(keys: string[]): { loss: string[]; other: string[] } {
  return { loss: keys.filter((k) => k.includes('loss')), other: keys.filter((k) => !k.includes('loss')) };
}

// Cost groups keyed by day → chart rows sorted by day, costs rounded to cents-and-a-bit.
export function costByDayRows(groups: CostGroup[]): { day: string; cost: number; ondemand: number }[] {
  return [...groups]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((g) => ({ day: g.key, cost: round4(g.cost_usd), ondemand: round4(g.ondemand_usd) }));
}

export function savingsPercent(total: number, ondemand: number): number | null {
  if (!Number.isFinite(total) || !Number.isFinite(ondemand) || ondemand <= 0) return null;
  return Math.round(((ondemand - total) / ondemand) * 1000) / 10;
}

function round4(v: number): number {
  return Math.round((v ?? 0) * 10000) / 10000;
}

// The job id of a cost group key from group_by=job ("12", "job:12", "job-12", "#12"), else null.
export function jobIdFromCostKey(key: string): number | null {
  const m = /^(?:job[:\-#]?|#)?(\d+)$/.exec(key.trim());
  return m ? Number(m[1]) : null;
}
