// Endpoint traffic (GET /v1/endpoints/{name}/metrics every 3 s): totals, request rate and latency
// per interval since the page opened, and the server's replica-count history.
import { LineChart } from '@mantine/charts';
import { Grid, SimpleGrid, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { enc } from '../api/client';
import { pushSample, replicaRows, toSample, trafficRows, type EndpointMetricsBody, type Sample } from '../lib/endpointMetrics';
import { formatNumber } from '../lib/format';
import { useApi } from '../lib/useApi';
import { Stat } from './cost';
import { ErrorState, Loading } from './states';

export function EndpointTraffic({ name }: { name: string }) {
  const m = useApi<EndpointMetricsBody>(`/v1/endpoints/${enc(name)}/metrics`, 3000);
  const [samples, setSamples] = useState<Sample[]>([]);
  useEffect(() => {
    if (m.data) setSamples((s) => pushSample(s, toSample(m.data!, Date.now() / 1000)));
  }, [m.data]);
  if (m.error && m.error.status === 404 && !m.data) {
    return <Text c="dimmed" size="sm">Request rate, latency and replica history are not available on this server yet.</Text>;
  }
  if (m.error && !m.data) return <ErrorState error={m.error} onRetry={m.reload} />;
  if (!m.data) return <Loading />;
  const d = m.data;
  const rows = trafficRows(samples);
  const replicas = replicaRows(d.replica_history ?? [], Date.now() / 1000);
  const meanMs = d.requests && d.latency?.sum_seconds ? (d.latency.sum_seconds / d.requests) * 1000 : null;
  return (
    <>
      <SimpleGrid cols={{ base: 2, sm: 3, md: 6 }} mb="sm" data-testid="traffic-stats">
        <Stat label="Requests" value={String(d.requests ?? 0)} />
        <Stat label="Errors" value={String(d.errors ?? 0)} />
        <Stat label="Mean latency" value={meanMs === null ? '—' : `${formatNumber(meanMs, 3)} ms`} />
        <Stat label="Cold starts" value={String(d.cold_starts ?? 0)} />
        <Stat label="In flight / queued" value={`${d.in_flight ?? 0} / ${d.queued ?? 0}`} />
        <Stat label="Replicas" value={`${d.replicas?.ready ?? 0} ready`} hint={d.replicas?.starting ? `${d.replicas.starting} starting` : undefined} />
      </SimpleGrid>
      <Grid>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Text size="sm" fw={600} mb={4}>
            Requests/s
          </Text>
          {rows.length ? (
            <div data-testid="rps-chart">
              <LineChart h={180} data={rows} dataKey="time" series={[{ name: 'rps', color: 'blue.6' }, { name: 'errors', color: 'red.6' }]} curveType="linear" withDots={false} />
            </div>
          ) : (
            <Text c="dimmed" size="xs">Collecting samples while this page is open…</Text>
          )}
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Text size="sm" fw={600} mb={4}>
            Latency (ms)
          </Text>
          {rows.some((r) => r.p50_ms !== null) ? (
            <div data-testid="latency-chart">
              <LineChart h={180} data={rows} dataKey="time" series={[{ name: 'p50_ms', color: 'teal.6' }, { name: 'p95_ms', color: 'orange.6' }]} curveType="linear" connectNulls withDots={false} />
            </div>
          ) : (
            <Text c="dimmed" size="xs">No requests since this page opened.</Text>
          )}
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Text size="sm" fw={600} mb={4}>
            Replicas
          </Text>
          {replicas.length ? (
            <div data-testid="replica-chart">
              <LineChart h={180} data={replicas} dataKey="time" series={[{ name: 'replicas', color: 'grape.6' }]} curveType="stepAfter" />
            </div>
          ) : (
            <Text c="dimmed" size="xs">No replica changes recorded yet.</Text>
          )}
        </Grid.Col>
      </Grid>
    </>
  );
}
