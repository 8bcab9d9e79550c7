// Endpoint traffic over time from GET /v1/endpoints/{name}/metrics (unit-tested).
// The route answers cumulative counters; the console samples it every few seconds and turns
// consecutive samples into request rate, error rate and latency quantiles per interval.

export interface LatencyBucket { le_ms: number | string; count: number } // cumulative counts
export interface EndpointMetricsBody {
  requests?: number; errors?: number; rejected?: number; cold_starts?: number; in_flight?: number; queued?: number;
  replicas?: { ready?: number; starting?: number };
  latency?: { sum_seconds?: number; buckets?: LatencyBucket[] };
  replica_history?: { at: number; replicas: number }[];
}

export interface Sample { t: number; requests: number; errors: number; latencySum: number; buckets: LatencyBucket[]; ready: number }

export function toSample(body: EndpointMetricsBody, t: number): Sample {
  return {
    t,
    requests: body.requests ?? 0,
    errors: body.errors ?? 0,
    latencySum: body.latency?.sum_seconds ?? 0,
    buckets: body.latency?.buckets ?? [],
    ready: body.replicas?.ready ?? 0,
  };
}

// Appends a sample, keeping at most `max`; a counter going down (server restarted) starts over.
export function pushSample(samples: Sample[], s: Sample, max = 120): Sample[] {
  const last = samples[samples.length - 1];
  if (last && s.t <= last.t) return samples;
  if (last && s.requests < last.requests) return [s];
  const out = [...samples, s];
  return out.length > max ? out.slice(out.length - max) : out;
}

// The q-quantile (0..1) in ms of a cumulative histogram, interpolated within its bucket; null when
// empty. The +Inf bucket answers the last finite bound.
export function histogramQuantile(buckets: LatencyBucket[], q: number): number | null {
  if (!buckets.length) return null;
  const total = buckets[buckets.length - 1].count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevCount = 0;
  let prevLe = 0;
  for (const b of buckets) {
    const le = typeof b.le_ms === 'number' ? b.le_ms : Number.POSITIVE_INFINITY;
    if (b.count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      const inBucket = b.count - prevCount;
      const frac = inBucket > 0 ? (rank - prevCount) / inBucket : 1;
      return prevLe + (le - prevLe) * frac;
    }
    prevCount = b.count;
    if (Number.isFinite(le)) prevLe = le;
  }
  return prevLe;
}

// Bucket-wise difference of two cumulative histograms (the requests between two samples).
export function diffBuckets(now: LatencyBucket[], before: LatencyBucket[]): LatencyBucket[] {
  if (before.length !== now.length) return now;
  return now.map((b, idx) => ({ le_ms: b.le_ms, count: Math.max(0, b.count - before[idx].count) }));
}

export interface TrafficRow { time: string; rps: number; errors: number; p50_ms: number | null; p95_ms: number | null; mean_ms: number | null }

function clock(t: number): string {
  const d = new Date(t * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((v) => String(v).padStart(2, '0')).join(':');
}

// One row per interval between consecutive samples.
export function trafficRows(samples: Sample[], label: (t: number) => string = clock): TrafficRow[] {
  const rows: TrafficRow[] = [];
  for (let idx = 1; idx < samples.length; idx++) {
    const a = samples[idx - 1];
    const b = samples[idx];
    const dt = b.t - a.t;
    if (dt <= 0) continue;
    const n = b.requests - a.requests;
    const hist = diffBuckets(b.buckets, a.buckets);
    const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
    rows.push({
      time: label(b.t),
      rps: Math.round((n / dt) * 100) / 100,
      errors: Math.round(((b.errors - a.errors) / dt) * 100) / 100,
      p50_ms: n > 0 ? round(histogramQuantile(hist, 0.5)) : null,
      p95_ms: n > 0 ? round(histogramQuantile(hist, 0.95)) : null,
      mean_ms: n > 0 ? round(((b.latencySum - a.latencySum) / n) * 1000) : null,
    });
  }
  return rows;
}

// Replica count over time from the server's replica_history, as a step series ending now.
export function replicaRows(history: { at: number; replicas: number }[], now: number, label: (t: number) => string = clock): { time: string; replicas: number }[] {
  const sorted = [...history].sort((a, b) => a.at - b.at);
  const rows = sorted.map((h) => ({ time: label(h.at), replicas: h.replicas }));
  if (sorted.length && now > sorted[sorted.length - 1].at) rows.push({ time: label(now), replicas: sorted[sorted.length - 1].replicas });
  return rows;
}
