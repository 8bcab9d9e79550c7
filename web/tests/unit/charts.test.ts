import { describe, expect, it } from 'vitest';
import { costByDayRows, jobIdFromCostKey, metricSeries, savingsPercent, splitLossKeys } from '../../src/lib/charts';
import { mlpParams, parseHidden, trainPlanRequest } from '../../src/lib/plan';

describe('chart data', () => {
  it('merges metrics per epoch, sorted, without non-numeric values or seconds', () => {
    const { rows, keys } = metricSeries([
      { step: 2, values: { train_loss: 0.5, val_loss: 0.6, seconds: 1 }, created_at: 0 },
      { step: 1, values: { train_loss: 0.9, val_accuracy: 0.7, note: 'x' as unknown as number }, created_at: 0 },
    ]);
    expect(rows).toEqual([
      { epoch: 1, train_loss: 0.9, val_accuracy: 0.7 },
      { epoch: 2, train_loss: 0.5, val_loss: 0.6 },
    ]);
    expect(keys).toEqual(['train_loss', 'val_accuracy', 'val_loss']);
    expect(splitLossKeys(keys)).toEqual({ loss: ['train_loss', 'val_loss'], other: ['val_accuracy'] });
    expect(metricSeries([])).toEqual({ rows: [], keys: [] });
  });
  it('shapes cost by day and computes savings', () => {
    const g = (key: string, cost: number) => ({ key, cost_usd: cost, ondemand_usd: cost * 2, savings_usd: cost, compute_seconds: 1, entries: 1 });
    expect(costByDayRows([g('2026-11-02', 1.23456), g('2026-11-01', 2)])).toEqual([
      { day: '2026-11-01', cost: 2, ondemand: 4 },
      { day: '2026-11-02', cost: 1.2346, ondemand: 2.4691 },
    ]);
    expect(savingsPercent(6, 10)).toBe(40);
    expect(savingsPercent(1, 0)).toBeNull();
  });
  it('reads job ids from cost group keys', () => {
    expect(jobIdFromCostKey('12')).toBe(12);
    expect(jobIdFromCostKey('job:7')).toBe(7);
    expect(jobIdFromCostKey('job-7')).toBe(7);
    expect(jobIdFromCostKey('#3')).toBe(3);
    expect(jobIdFromCostKey('endpoint:iris')).toBeNull();
  });
});

describe('planner request', () => {
  it('counts MLP parameters', () => {
    expect(mlpParams(4, [8], 3)).toBe(4 * 8 + 8 + 8 * 3 + 3);
  });
  it('parses hidden layer sizes', () => {
    expect(parseHidden('64, 32')).toEqual([64, 32]);
    expect(parseHidden('')).toEqual([]);
    expect(parseHidden('64, x')).toBeNull();
    expect(parseHidden('0')).toBeNull();
  });
  it('builds a train plan request', () => {
    const r = trainPlanRequest({ features: 4, rows: 150, epochs: 10, hidden: [], outputs: 3, deadlineHours: 24 });
    expect(r.kind).toBe('train');
    expect(r.workload.tokens).toBe(1500);
    expect(r.workload.params).toBe(mlpParams(4, [128, 64], 3));
    expect(r.deadline_hours).toBe(24);
  });
});
