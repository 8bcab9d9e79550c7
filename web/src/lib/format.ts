// Pure formatting helpers (unit-tested).

export function formatUsd(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const abs = Math.abs(v);
  const digits = abs > 0 && abs < 0.01 ? 4 : 2;
  return (v < 0 ? '-$' : '$') + abs.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let idx = 0;
  while (v >= 1024 && idx < units.length - 1) {
    v /= 1024;
    idx++;
  }
  return (idx === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[idx];
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.round((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.round((seconds % 86400) / 3600)}h`;
}

// "3 min ago" from unix seconds; `now` in unix seconds (injected for tests).
export function timeAgo(unixSeconds: number, now: number = Date.now() / 1000): string {
  if (!unixSeconds) return '—';
  const d = Math.max(0, now - unixSeconds);
  if (d < 45) return 'just now';
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} d ago`;
}

export function formatTime(unixSeconds: number): string {
  if (!unixSeconds) return '—';
  return new Date(unixSeconds * 1000).toLocaleString();
}

export function formatNumber(v: unknown, digits = 4): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v ?? '—');
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(digits)).toString();
}

// Where a validation error points: the API's details {line, column}, else "line N" / "column M"
// found in the message.
export function errorLocation(details: Record<string, unknown> | undefined, message: string): { line?: number; column?: number } {
  const out: { line?: number; column?: number } = {};
  for (const key of ['line', 'column'] as const) {
    const v = details?.[key];
    if (typeof v === 'number') out[key] = v;
    else {
      const m = new RegExp(`\\b${key} (\\d+)`).exec(message);
      if (m) out[key] = Number(m[1]);
    }
  }
  return out;
}

export const TERMINAL_JOB_STATES = new Set(['succeeded', 'failed', 'cancelled']);
export const ACTIVE_JOB_STATES = new Set(['queued', 'provisioning', 'running', 'checkpointing', 'preempted', 'recovering', 'paused']);

export function stateColor(state: string): string {
  switch (state) {
    case 'succeeded':
    case 'ready':
      return 'green';
    case 'failed':
      return 'red';
    case 'cancelled':
    case 'paused':
    case 'stopped':
      return 'gray';
    case 'preempted':
    case 'recovering':
    case 'restarting':
      return 'orange';
    case 'queued':
    case 'provisioning':
    case 'deploying':
      return 'yellow';
    default:
      return 'blue';
  }
}

// Allowed dataset file types (the server decides; this only catches obvious mistakes early).
export const DATASET_EXTENSIONS = ['.csv', '.tsv', '.txt', '.jsonl', '.zip', '.tar', '.tar.gz', '.tgz', '.gz', '.idx', '.ubyte'];
export function checkDatasetFile(name: string): string | null {
  const lower = name.toLowerCase();
  if (DATASET_EXTENSIONS.some((ext) => lower.endsWith(ext))) return null;
  if (!lower.includes('.')) return null; // IDX files often have no extension
  return `"${name}" does not look like a dataset (expected CSV, JSONL, IDX or an image archive)`;
}

// A dataset name from a file name: the server accepts [a-z0-9-_.] names.
export function datasetNameFromFile(filename: string): string {
  const base = filename.replace(/\.(csv|tsv|txt|jsonl|zip|tar\.gz|tgz|tar|gz)$/i, '');
  const name = base.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return name.slice(0, 60) || 'dataset';
}
