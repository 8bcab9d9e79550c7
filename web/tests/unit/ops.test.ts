import { describe, expect, it } from 'vitest';
import { diffBuckets, histogramQuantile, pushSample, replicaRows, toSample, trafficRows } from '../../src/lib/endpointMetrics';
import { checkTraffic, modeForServeOption, servePlanRequest } from '../../src/lib/plan';
import { formatCount, profileMeasurements, profileSummary } from '../../src/lib/profile';
import { jobControls, jobTimeline, timelineKind } from '../../src/lib/timeline';

const traffic = { meanRps: 2, peakRps: 5, activeHours: 12, latencyMs: 200 };

describe('serve plan request', () => {
  it('names the profiled model and lets the server fill the workload', () => {
    expect(servePlanRequest({ model: 'm', version: 3, profiled: true, sizeBytes: 0, traffic })).toEqual({
      kind: 'serve',
      traffic: { mean_rps: 2, peak_rps: 5, active_hours_per_day: 12 },
      latency_objective_ms: 200,
      model: { name: 'm', version: 3 },
    });
  });
  it('estimates FLOPs and memory from the artifact size without a profile', () => {
    const r = servePlanRequest({ model: 'm', version: 1, profiled: false, sizeBytes: 4e6, traffic: { ...traffic, peakRps: 1 } });
    expect(r.model).toBeUndefined();
    expect(r.request_gflops).toBeCloseTo(0.002);
    expect(r.model_memory_gib).toBeCloseTo(4e6 / 1024 ** 3);
    expect((r.traffic as { peak_rps: number }).peak_rps).toBe(2); // never below the mean
  });
  it('validates traffic fields', () => {
    expect(checkTraffic(traffic)).toBeNull();
    expect(checkTraffic({ ...traffic, meanRps: 0 })).toMatch(/Mean/);
    expect(checkTraffic({ ...traffic, peakRps: 1 })).toMatch(/Peak/);
    expect(checkTraffic({ ...traffic, activeHours: 25 })).toMatch(/hours/);
    expect(checkTraffic({ ...traffic, latencyMs: Number.NaN })).toMatch(/latency/);
  });
  it('maps plan options to endpoint modes', () => {
    expect(modeForServeOption('serverless')).toEqual({ mode: 'serverless' });
    expect(modeForServeOption('dedicated')).toEqual({ mode: 'dedicated' });
    expect(modeForServeOption('spot+fallback').mode).toBe('spot');
    expect(modeForServeOption('spot+fallback').note).toMatch(/on-demand/);
  });
});

describe('endpoint traffic', () => {
  const b = (counts: number[]) => [10, 100, 1000].map((le, idx) => ({ le_ms: le, count: counts[idx] })).concat([{ le_ms: '+Inf' as unknown as number, count: counts[3] }]);
  it('computes histogram quantiles with interpolation', () => {
    expect(histogramQuantile([], 0.5)).toBeNull();
    expect(histogramQuantile(b([0, 0, 0, 0]), 0.5)).toBeNull();
    expect(histogramQuantile(b([10, 10, 10, 10]), 0.5)).toBe(5);
    expect(histogramQuantile(b([0, 10, 10, 10]), 0.5)).toBe(55);
    expect(histogramQuantile(b([0, 0, 0, 4]), 0.95)).toBe(1000); // all beyond the last bound
  });
  it('turns cumulative samples into per-interval rates and latencies', () => {
    const s1 = toSample({ requests: 0, errors: 0, latency: { sum_seconds: 0, buckets: b([0, 0, 0, 0]) } }, 100);
    const s2 = toSample({ requests: 10, errors: 1, latency: { sum_seconds: 0.5, buckets: b([0, 10, 10, 10]) }, replicas: { ready: 1 } }, 105);
    const s3 = toSample({ requests: 10, errors: 1, latency: { sum_seconds: 0.5, buckets: b([0, 10, 10, 10]) } }, 110);
    const rows = trafficRows([s1, s2, s3], (t) => String(t));
    expect(rows).toEqual([
      { time: '105', rps: 2, errors: 0.2, p50_ms: 55, p95_ms: 95.5, mean_ms: 50 },
      { time: '110', rps: 0, errors: 0, p50_ms: null, p95_ms: null, mean_ms: null },
    ]);
    expect(diffBuckets(b([1, 2, 3, 4]), b([0, 0, 0, 0]).slice(0, 2))).toEqual(b([1, 2, 3, 4]));
  });
  it('keeps a bounded sample window and restarts when counters reset', () => {
    const mk = (t: number, requests: number) => toSample({ requests }, t);
    let s = pushSample([], mk(1, 5));
    s = pushSample(s, mk(2, 6));
    expect(s.length).toBe(2);
    expect(pushSample(s, mk(2, 9))).toBe(s); // same time: ignored
    expect(pushSample(s, mk(3, 1))).toEqual([mk(3, 1)]); // server restarted
    let many: ReturnType<typeof mk>[] = [];
    for (let t = 1; t <= 10; t++) many = pushSample(many, mk(t, t), 4);
    expect(many.map((x) => x.t)).toEqual([7, 8, 9, 10]);
  });
  it('draws the replica history as steps up to now', () => {
    expect(replicaRows([{ at: 20, replicas: 2 }, { at: 10, replicas: 1 }], 30, String)).toEqual([
      { time: '10', replicas: 1 },
      { time: '20', replicas: 2 },
      { time: '30', replicas: 2 },
    ]);
    expect(replicaRows([], 30, String)).toEqual([]);
  });
});

describe('model profile', () => {
  it('formats counts', () => {
    expect(formatCount(1234567)).toBe('1.23 M');
    expect(formatCount(2.5e9, 'FLOP')).toBe('2.5 GFLOP');
    expect(formatCount(12)).toBe('12');
    expect(formatCount(undefined)).toBe('—');
  });
  it('summarises params, FLOPs, memory and sorts measurements', () => {
    const p = {
      parameters: 4354, flops: { forward_per_sample: 8600, train_per_sample: 25800 },
      memory_bytes: { batch: 32, inference: 20000, training: 2048 * 1024 }, checkpoint_bytes: 52000,
      measurements: [
        { phase: 'train_step', batch: 32, median_ms: 1, samples_per_second: 32000 },
        { phase: 'inference', batch: 32, median_ms: 0.1, samples_per_second: 320000 },
        { phase: 'inference', batch: 1, median_ms: 0.05, samples_per_second: 20000 },
      ],
    };
    const rows = profileSummary(p);
    expect(rows[0]).toEqual({ label: 'Parameters', value: '4.35 k' });
    expect(rows.find((r) => r.label.startsWith('Memory, training'))).toEqual({ label: 'Memory, training (batch 32)', value: '2.0 MiB' });
    expect(profileMeasurements(p).map((m) => `${m.phase}/${m.batch}`)).toEqual(['inference/1', 'inference/32', 'train_step/32']);
    expect(profileSummary({})).toEqual([{ label: 'Parameters', value: '—' }]);
  });
});

describe('job timeline', () => {
  it('classifies events', () => {
    expect(timelineKind('preempted')).toBe('preemption');
    expect(timelineKind('interrupted')).toBe('preemption');
    expect(timelineKind('checkpointing')).toBe('checkpoint');
    expect(timelineKind('checkpoint')).toBe('checkpoint');
    expect(timelineKind('recovering')).toBe('recovery');
    expect(timelineKind('paused')).toBe('pause');
    expect(timelineKind('failed')).toBe('failure');
    expect(timelineKind('succeeded')).toBe('success');
    expect(timelineKind('running')).toBe('state');
  });
  it('keeps this job, oldest first, and counts kinds', () => {
    const ev = (id: number, action: string, at: number, subject_id = 7, kind = 'job') => ({ id, kind, subject_id, action, message: action, created_at: at });
    const { entries, counts } = jobTimeline([ev(3, 'recovering', 30), ev(1, 'running', 10), ev(2, 'preempted', 20), ev(4, 'running', 5, 8), ev(5, 'ready', 1, 7, 'endpoint')], 7);
    expect(entries.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(counts.preemption).toBe(1);
    expect(counts.recovery).toBe(1);
  });
  it('offers controls by state', () => {
    expect(jobControls('running')).toEqual({ pause: true, resume: false, notice: true });
    expect(jobControls('paused')).toEqual({ pause: false, resume: true, notice: false });
    expect(jobControls('succeeded')).toEqual({ pause: false, resume: false, notice: false });
  });
});

import { parseSteps, rolloutRequest, rolloutStatus, splitSegments } from '../../src/lib/rollout';
import { ApiError } from '../../src/api/client';

describe('rollouts', () => {
  it('tells apart no route, no rollout, running and finished', () => {
    expect(rolloutStatus(undefined, undefined)).toBe('loading');
    expect(rolloutStatus(undefined, new ApiError(404, 'not_found', 'no route for GET /v1/endpoints/x/rollout'))).toBe('unavailable');
    expect(rolloutStatus(undefined, new ApiError(404, 'not_found', "endpoint 'x' has no rollout"))).toBe('none');
    expect(rolloutStatus(undefined, new ApiError(500, 'internal', 'boom'))).toBe('error');
    const r = { phase: 'running' } as never;
    expect(rolloutStatus(r, undefined)).toBe('running');
    expect(rolloutStatus({ phase: 'promoted' } as never, undefined)).toBe('finished');
  });
  it('parses step percentages', () => {
    expect(parseSteps('10, 25,50 100')).toEqual([10, 25, 50, 100]);
    expect(parseSteps('100')).toEqual([100]);
    expect(parseSteps('50, 25, 100')).toBeNull();
    expect(parseSteps('10, 50')).toBeNull();
    expect(parseSteps('0, 100')).toBeNull();
    expect(parseSteps('')).toBeNull();
  });
  it('builds the start request and the split', () => {
    expect(rolloutRequest({ model: 'm', version: 2, strategy: 'blue_green', steps: [10, 100], stepSeconds: 30, minRequests: 20 })).toEqual({
      model: 'm', version: 2, strategy: 'blue_green', step_seconds: 30, rollback: { min_requests: 20 },
    });
    expect(rolloutRequest({ model: 'm', version: 2, strategy: 'canary', steps: [10, 100], stepSeconds: 30, minRequests: 20 }).steps).toEqual([10, 100]);
    const seg = splitSegments({ versions: [{ role: 'stable', model_version: 'm v1', percent: 75 }, { role: 'canary', model_version: 'm v2', percent: 25 }] } as never);
    expect(seg.map((s) => s.percent)).toEqual([75, 25]);
    expect(seg[1].label).toBe('canary m v2');
  });
});
