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

// ---- Serving plans (POST /v1/plans, kind "serve") ----

export interface TrafficInput { meanRps: number; peakRps: number; activeHours: number; latencyMs: number }

// Checks the traffic fields; returns a message naming the first bad field, else null.
export function checkTraffic(t: TrafficInput): string | null {
  if (!(t.meanRps > 0)) return 'Mean requests/s must be more than 0.';
  if (!(t.peakRps >= t.meanRps)) return 'Peak requests/s must be at least the mean.';
  if (!(t.activeHours > 0 && t.activeHours <= 24)) return 'Active hours per day must be between 0 and 24.';
  if (!(t.latencyMs > 0)) return 'The latency objective must be more than 0 ms.';
  return null;
}

// A serve plan request. With a profiled model the server fills request_gflops and model_memory_gib
// from the profile (and calibrates CPU speed); without one they are estimated from the artifact
// size: float32 weights (4 bytes per parameter) and ~2 FLOPs per parameter per request.
export function servePlanRequest(opts: {
  model: string; version: number; profiled: boolean; sizeBytes: number; traffic: TrafficInput;
}): Record<string, unknown> {
  const t = opts.traffic;
  const body: Record<string, unknown> = {
    kind: 'serve',
    traffic: { mean_rps: t.meanRps, peak_rps: Math.max(t.peakRps, t.meanRps), active_hours_per_day: t.activeHours },
    latency_objective_ms: t.latencyMs,
  };
  if (opts.profiled) {
    body.model = { name: opts.model, version: opts.version };
  } else {
    const bytes = Math.max(1024, opts.sizeBytes || 0);
    const params = bytes / 4;
    body.request_gflops = Math.max(1e-6, (2 * params) / 1e9);
    body.model_memory_gib = Math.max(1e-6, bytes / 1024 ** 3);
  }
  return body;
}

// The endpoint mode to deploy a serving plan option with: serverless, dedicated, or spot replicas
// with on-demand fallback (mode "spot").
export function modeForServeOption(kind: string): { mode: 'serverless' | 'dedicated' | 'spot'; note?: string } {
  if (kind === 'serverless') return { mode: 'serverless' };
  if (kind === 'dedicated') return { mode: 'dedicated' };
  return { mode: 'spot', note: 'Spot replicas are interrupted now and then; the endpoint falls back to on-demand replicas meanwhile.' };
}
