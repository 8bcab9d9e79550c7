// Turns a tabular training form into a planner workload (POST /v1/plans, kind "train").
// The planner speaks parameters and tokens; for a tabular MLP a row is one "token".

export function mlpParams(features: number, hidden: number[], outputs: number): number {
  const sizes = [Math.max(1, features), ...hidden.filter((h) => h > 0), Math.max(1, outputs)];
  let params = 0;
  for (let idx = 1; idx < sizes.length; idx++) params += sizes[idx - 1] * sizes[idx] + sizes[idx];
  return params;
}

export function parseHidden(text: string): number[] | null {
  const parts = text.split(/[,\s]+/).filter(Boolean);
  if (parts.length === 0) return [];
  const out = parts.map(Number);
  return out.every((n) => Number.isInteger(n) && n >= 1 && n <= 65536) && out.length <= 8 ? out : null;
}

export function trainPlanRequest(opts: { features: number; rows: number; epochs: number; hidden: number[]; outputs: number; deadlineHours: number }) {
  return {
    kind: 'train',
    workload: {
      params: mlpParams(opts.features, opts.hidden.length ? opts.hidden : [128, 64], opts.outputs),
      tokens: Math.max(1, opts.rows) * Math.max(1, opts.epochs),
      seq_len: 1,
      micro_batch: 1,
      precision: 'fp32',
    },
    deadline_hours: opts.deadlineHours,
  };
}
