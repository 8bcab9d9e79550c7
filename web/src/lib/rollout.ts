// Endpoint rollouts (canary / blue-green; GET/POST /v1/endpoints/{name}/rollout) (unit-tested).
import type { ApiError } from '../api/client';

export interface RolloutVersion {
  role: 'stable' | 'canary'; model_version: string; version: number; percent: number;
  metrics: { requests: number; errors: number; error_rate: number; p95_ms: number; ready_replicas: number };
}
export interface Rollout {
  endpoint: string; phase: 'running' | 'promoted' | 'rolled_back'; strategy: string; steps: number[]; step_seconds: number;
  step_index: number; canary_percent: number; versions: RolloutVersion[]; reason: string; started_at: number; finished_at: number;
}

// What the rollout panel shows: the server has no rollout routes, the endpoint never had a
// rollout, or the latest one.
export function rolloutStatus(data: Rollout | undefined, error: ApiError | undefined): 'unavailable' | 'none' | 'error' | 'loading' | 'running' | 'finished' {
  if (data) return data.phase === 'running' ? 'running' : 'finished';
  if (!error) return 'loading';
  if (error.status === 404) return /no route/i.test(error.message) ? 'unavailable' : 'none';
  return 'error';
}

// "10, 25, 50, 100" → [10, 25, 50, 100]; null unless 1..8 increasing percentages ending at 100.
export function parseSteps(text: string): number[] | null {
  const parts = text.split(/[,\s]+/).filter(Boolean);
  if (!parts.length || parts.length > 8) return null;
  const steps = parts.map(Number);
  if (!steps.every((n) => Number.isInteger(n) && n >= 1 && n <= 100)) return null;
  for (let idx = 1; idx < steps.length; idx++) if (steps[idx] <= steps[idx - 1]) return null;
  return steps[steps.length - 1] === 100 ? steps : null;
}

export function rolloutRequest(opts: { model: string; version: number; strategy: 'canary' | 'blue_green'; steps: number[]; stepSeconds: number; minRequests: number }) {
  const body: Record<string, unknown> = { model: opts.model, version: opts.version, strategy: opts.strategy, step_seconds: opts.stepSeconds };
  if (opts.strategy === 'canary') body.steps = opts.steps;
  body.rollback = { min_requests: opts.minRequests };
  return body;
}

// Split bar segments (stable first), percentages summing to 100.
export function splitSegments(r: Rollout): { label: string; percent: number; color: string }[] {
  const stable = r.versions.find((v) => v.role === 'stable');
  const canary = r.versions.find((v) => v.role === 'canary');
  const c = Math.max(0, Math.min(100, canary?.percent ?? 0));
  return [
    { label: `stable ${stable?.model_version ?? ''}`.trim(), percent: 100 - c, color: 'blue' },
    { label: `canary ${canary?.model_version ?? ''}`.trim(), percent: c, color: 'orange' },
  ];
}
