// Planner advice for serving a model version (POST /v1/plans, kind "serve"): traffic inputs, the
// recommended option, every option with its monthly cost and latency, and the break-even rate.
import { Alert, Badge, Grid, Group, NumberInput, Stack, Table, Text } from '@mantine/core';
import { useMemo, useState } from 'react';
import { enc } from '../api/client';
import type { ModelVersion } from '../api/types';
import { formatDuration, formatNumber, formatUsd } from '../lib/format';
import { checkTraffic, servePlanRequest, type TrafficInput } from '../lib/plan';
import { useApi } from '../lib/useApi';
import { usePlanAdvice } from './TrainPlan';

export interface ServeOption {
  kind: string; feasible: boolean; instance_type: string; region: string; replicas: number; usd_per_month: number;
  usd_per_1k_requests: number; p95_latency_seconds: number; cold_start_seconds: number; cold_fraction: number; reason: string;
}
export interface ServePlan {
  id: number; kind: 'serve'; best: ServeOption; ranked: ServeOption[]; requests_per_month: number;
  break_even_mean_rps: number | null; reason: string; catalog_date: string; prices_date: string;
}

function latency(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  return seconds < 1 ? `${formatNumber(seconds * 1000, 3)} ms` : formatDuration(seconds);
}

function coldText(fraction: number): string {
  if (!(fraction > 0)) return '';
  return fraction < 0.0001 ? '<0.01% cold' : `${formatNumber(fraction * 100, 2)}% cold`;
}

function where(o: ServeOption): string {
  if (o.kind === 'serverless') return o.region ? `Lambda ${o.region}` : 'Lambda';
  return `${o.replicas} × ${o.instance_type}${o.region ? ' ' + o.region : ''}`;
}

// Fetches a serve plan for `model` (latest version unless `version`) whenever the inputs settle.
export function useServePlan(model: string | null, version: number | null) {
  const mvPath = model ? `/v1/models/${enc(model)}/versions/${version ?? 'latest'}` : null;
  const mv = useApi<ModelVersion>(mvPath);
  const profile = useApi<Record<string, unknown>>(mvPath ? mvPath + '/profile' : null);
  const [traffic, setTraffic] = useState<TrafficInput>({ meanRps: 1, peakRps: 5, activeHours: 24, latencyMs: 500 });
  const trafficError = checkTraffic(traffic);
  const profiled = !!profile.data;
  const ready = !!mv.data && (profile.data !== undefined || profile.error !== undefined);
  const input = useMemo(() => {
    if (!model || !mv.data || !ready || trafficError) return null;
    return JSON.stringify(servePlanRequest({ model, version: mv.data.version, profiled, sizeBytes: mv.data.size_bytes, traffic }));
  }, [model, mv.data, ready, profiled, traffic, trafficError]);
  // A plan for inputs that are no longer valid is not shown.
  const advice = usePlanAdvice<ServePlan>(input);
  const plan = input ? advice.plan : undefined;
  const error = input ? advice.error : undefined;
  const loading = advice.loading;
  return { version: mv.data, versionError: mv.error, profiled, traffic, setTraffic, trafficError, plan, error, loading: loading || advice.pending };
}

export function ServePlanView({ state }: { state: ReturnType<typeof useServePlan> }) {
  const { traffic, setTraffic, trafficError, plan, error, loading, profiled, version } = state;
  const num = (v: number | string) => (typeof v === 'number' ? v : Number(v));
  return (
    <Stack gap="xs" data-testid="serve-plan">
      <Grid>
        <Grid.Col span={{ base: 6, sm: 3 }}>
          <NumberInput label="Mean requests/s" min={0} step={0.5} decimalScale={3} value={traffic.meanRps} onChange={(v) => setTraffic({ ...traffic, meanRps: num(v) })} />
        </Grid.Col>
        <Grid.Col span={{ base: 6, sm: 3 }}>
          <NumberInput label="Peak requests/s" min={0} step={1} decimalScale={3} value={traffic.peakRps} onChange={(v) => setTraffic({ ...traffic, peakRps: num(v) })} />
        </Grid.Col>
        <Grid.Col span={{ base: 6, sm: 3 }}>
          <NumberInput label="Active hours/day" min={1} max={24} value={traffic.activeHours} onChange={(v) => setTraffic({ ...traffic, activeHours: num(v) })} />
        </Grid.Col>
        <Grid.Col span={{ base: 6, sm: 3 }}>
          <NumberInput label="p95 objective (ms)" min={1} step={50} value={traffic.latencyMs} onChange={(v) => setTraffic({ ...traffic, latencyMs: num(v) })} />
        </Grid.Col>
      </Grid>
      {trafficError && <Text size="sm" c="red">{trafficError}</Text>}
      {state.versionError && <Alert color="red">{state.versionError.message}</Alert>}
      {error && (
        <Alert color={error.status === 503 || error.status === 412 ? 'yellow' : 'red'} title="No planner advice" data-testid="serve-plan-error">
          {error.message}
        </Alert>
      )}
      {!plan && !error && !trafficError && <Text c="dimmed" size="sm">{version ? 'Asking the planner…' : loading ? 'Asking the planner…' : 'Pick a model to see the advice.'}</Text>}
      {plan && (
        <Stack gap={6} data-testid="serve-plan-result" style={{ opacity: loading ? 0.6 : 1 }}>
          <Text size="sm">
            Recommended: <b data-testid="serve-plan-best">{plan.best.kind}</b> — {where(plan.best)}
          </Text>
          <Group gap="xs">
            <Badge variant="light">{formatUsd(plan.best.usd_per_month)}/month</Badge>
            <Badge variant="light">{formatUsd(plan.best.usd_per_1k_requests)} per 1k requests</Badge>
            <Badge variant="light">p95 {latency(plan.best.p95_latency_seconds)}</Badge>
            {plan.best.cold_start_seconds > 0 && <Badge variant="light" color="yellow">cold start {latency(plan.best.cold_start_seconds)}</Badge>}
          </Group>
          {plan.reason && <Text size="xs" c="dimmed">{plan.reason}</Text>}
          {plan.break_even_mean_rps !== null && (
            <Text size="xs" c="dimmed">
              Serverless and replicas cost the same at about {formatNumber(plan.break_even_mean_rps, 3)} requests/s on average.
            </Text>
          )}
          <Table.ScrollContainer minWidth={520}>
            <Table fz="xs" data-testid="serve-options">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Option</Table.Th>
                  <Table.Th>Where</Table.Th>
                  <Table.Th>$/month</Table.Th>
                  <Table.Th>p95</Table.Th>
                  <Table.Th>Note</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {plan.ranked.map((o) => (
                  <Table.Tr key={o.kind} c={o.feasible ? undefined : 'dimmed'}>
                    <Table.Td>{o.kind}</Table.Td>
                    <Table.Td>{o.feasible ? where(o) : '—'}</Table.Td>
                    <Table.Td>{o.feasible ? formatUsd(o.usd_per_month) : '—'}</Table.Td>
                    <Table.Td>{o.feasible ? latency(o.p95_latency_seconds) : '—'}</Table.Td>
                    <Table.Td style={{ overflowWrap: 'anywhere' }}>{o.feasible ? coldText(o.cold_fraction) : o.reason}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Text size="xs" c="dimmed">
            {profiled
              ? 'From the model’s measured profile on this machine.'
              : 'Estimated from the model’s size; profile the model (Models page) for a measured plan.'}{' '}
            Prices as of {plan.prices_date}.
          </Text>
        </Stack>
      )}
    </Stack>
  );
}
