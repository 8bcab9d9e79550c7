// A model version's profile (GET/POST /v1/models/{m}/versions/{v}/profile) as table rows (unit-tested).
import { formatBytes } from './format';

export interface ProfileMeasurement { phase: string; batch: number; median_ms: number; p10_ms?: number; p90_ms?: number; samples_per_second: number; achieved_gflops?: number }
export interface ModelProfile {
  format?: string; model_kind?: string; parameters?: number; trainable_parameters?: number;
  flops?: { forward_per_sample?: number; train_per_sample?: number };
  memory_bytes?: { batch?: number; weights?: number; inference?: number; training?: number; [k: string]: number | undefined };
  checkpoint_bytes?: number; threads?: number; hardware_threads?: number;
  measurements?: ProfileMeasurement[]; profiled_at?: number;
  input?: { dtype?: string; shape?: number[] };
}

// 1234567 → "1.23 M"; FLOPs and parameter counts.
export function formatCount(v: number | undefined | null, unit = ''): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  const abs = Math.abs(v);
  const steps: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [scale, suffix] of steps) {
    if (abs >= scale) return `${Number((v / scale).toPrecision(3))} ${suffix}${unit}`;
  }
  return `${Number(v.toPrecision(3))}${unit ? ' ' + unit : ''}`;
}

export function profileSummary(p: ModelProfile): { label: string; value: string }[] {
  const rows: { label: string; value: string }[] = [];
  rows.push({ label: 'Parameters', value: formatCount(p.parameters) });
  if (p.flops?.forward_per_sample !== undefined) rows.push({ label: 'FLOPs / sample (forward)', value: formatCount(p.flops.forward_per_sample, 'FLOP') });
  if (p.flops?.train_per_sample !== undefined) rows.push({ label: 'FLOPs / sample (training)', value: formatCount(p.flops.train_per_sample, 'FLOP') });
  const m = p.memory_bytes;
  if (m?.inference !== undefined) rows.push({ label: 'Memory, inference', value: formatBytes(m.inference) });
  if (m?.training !== undefined) rows.push({ label: `Memory, training (batch ${m.batch ?? '?'})`, value: formatBytes(m.training) });
  if (p.checkpoint_bytes !== undefined) rows.push({ label: 'Checkpoint', value: formatBytes(p.checkpoint_bytes) });
  if (p.input?.shape) rows.push({ label: 'Input', value: `${p.input.dtype ?? 'float32'} [${p.input.shape.join(', ')}]` });
  return rows;
}

// Measured rows sorted by phase then batch.
export function profileMeasurements(p: ModelProfile): ProfileMeasurement[] {
  return [...(p.measurements ?? [])].sort((a, b) => (a.phase < b.phase ? -1 : a.phase > b.phase ? 1 : a.batch - b.batch));
}
