// Canary / blue-green rollout controls on the endpoint page: the per-version split and metrics of
// the latest rollout, promote / roll back while it runs, and a form to start one.
import { Alert, Badge, Button, Grid, Group, NumberInput, Progress, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { ApiError, api, enc } from '../api/client';
import type { Endpoint, List, ModelVersion } from '../api/types';
import { formatNumber, timeAgo } from '../lib/format';
import { parseSteps, rolloutRequest, rolloutStatus, splitSegments, type Rollout } from '../lib/rollout';
import { useApi } from '../lib/useApi';
import { ConfirmButton, ErrorState, Loading } from './states';

function StartRollout({ ep, onStarted }: { ep: Endpoint; onStarted: () => void }) {
  const model = ep.model?.name ?? '';
  const versions = useApi<List<ModelVersion>>(model ? `/v1/models/${enc(model)}/versions?limit=200` : null);
  const others = (versions.data?.items ?? []).filter((v) => v.version !== ep.model?.version).sort((a, b) => b.version - a.version);
  const [version, setVersion] = useState<string | null>(null);
  const [strategy, setStrategy] = useState<'canary' | 'blue_green'>('canary');
  const [steps, setSteps] = useState('10, 50, 100');
  const [stepSeconds, setStepSeconds] = useState<number | string>(60);
  const [minRequests, setMinRequests] = useState<number | string>(50);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const parsed = parseSteps(steps);
  const chosen = version ?? (others[0] ? String(others[0].version) : null);
  const start = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (!chosen) return setError(new ApiError(400, 'invalid_argument', 'Choose the version to roll out.'));
    if (strategy === 'canary' && !parsed) return setError(new ApiError(400, 'invalid_argument', 'Steps: increasing percentages ending at 100, like "10, 50, 100".'));
    setBusy(true);
    setError(undefined);
    try {
      await api.post(`/v1/endpoints/${enc(ep.name)}/rollout`, rolloutRequest({ model, version: Number(chosen), strategy, steps: parsed ?? [100], stepSeconds: Number(stepSeconds) || 60, minRequests: Number(minRequests) || 50 }));
      onStarted();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  if (versions.error) return <ErrorState error={versions.error} onRetry={versions.reload} />;
  if (!versions.data) return <Loading />;
  if (!others.length) {
    return (
      <Text c="dimmed" size="sm" data-testid="rollout-empty">
        {model} has no other version to roll out. Train or upload a new version of {model}, then start a canary here.
      </Text>
    );
  }
  return (
    <form onSubmit={start}>
      <Stack gap="xs">
        <Grid>
          <Grid.Col span={{ base: 6, sm: 3 }}>
            <Select label="New version" data={others.map((v) => ({ value: String(v.version), label: `${model} v${v.version}` }))} value={chosen} onChange={setVersion} allowDeselect={false} data-testid="rollout-version" />
          </Grid.Col>
          <Grid.Col span={{ base: 6, sm: 3 }}>
            <Select label="Strategy" data={[{ value: 'canary', label: 'Canary (stepwise)' }, { value: 'blue_green', label: 'Blue/green (switch)' }]} value={strategy} onChange={(v) => setStrategy((v as 'canary' | 'blue_green') ?? 'canary')} allowDeselect={false} />
          </Grid.Col>
          <Grid.Col span={{ base: 12, sm: 2 }}>
            <TextInput label="Steps (%)" value={steps} onChange={(e) => setSteps(e.currentTarget.value)} disabled={strategy !== 'canary'} error={strategy === 'canary' && !parsed ? 'e.g. 10, 50, 100' : undefined} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, sm: 2 }}>
            <NumberInput label="Seconds per step" min={1} max={86400} value={stepSeconds} onChange={setStepSeconds} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, sm: 2 }}>
            <NumberInput label="Min requests" min={1} value={minRequests} onChange={setMinRequests} />
          </Grid.Col>
        </Grid>
        <Text size="xs" c="dimmed">
          The canary gets each step’s share of requests; it rolls back by itself if its error rate or p95 latency gets worse than the stable version’s
          once it has answered the minimum number of requests.
        </Text>
        {error && <Alert color="red" data-testid="rollout-error">{error.message}</Alert>}
        <Group>
          <Button type="submit" loading={busy} data-testid="start-rollout">
            Start rollout
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function RolloutView({ r, ep, onChange }: { r: Rollout; ep: Endpoint; onChange: () => void }) {
  const running = r.phase === 'running';
  const act = async (what: 'promote' | 'rollback') => {
    await api.post(`/v1/endpoints/${enc(ep.name)}/rollout/${what}`, {});
    onChange();
  };
  const phaseColor = r.phase === 'running' ? 'blue' : r.phase === 'promoted' ? 'green' : 'orange';
  return (
    <Stack gap="xs" data-testid="rollout">
      <Group gap="xs" wrap="wrap">
        <Badge color={phaseColor} data-testid="rollout-phase">{r.phase.replace('_', ' ')}</Badge>
        <Badge variant="light">{r.strategy === 'blue_green' ? 'blue/green' : 'canary'}</Badge>
        {r.strategy !== 'blue_green' && r.steps?.length > 0 && (
          <Badge variant="light">
            steps {r.steps.join(' → ')} % · {r.step_seconds}s each
          </Badge>
        )}
        <Text size="xs" c="dimmed">
          started {timeAgo(r.started_at)}
          {r.finished_at ? ` · finished ${timeAgo(r.finished_at)}` : ''}
        </Text>
      </Group>
      <Progress.Root size={22} data-testid="rollout-split">
        {splitSegments(r).map((s) =>
          s.percent > 0 ? (
            <Progress.Section key={s.label} value={s.percent} color={s.color}>
              <Progress.Label>
                {s.label} {s.percent}%
              </Progress.Label>
            </Progress.Section>
          ) : null,
        )}
      </Progress.Root>
      <Table.ScrollContainer minWidth={460}>
        <Table fz="sm" data-testid="rollout-versions">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Version</Table.Th>
              <Table.Th>Traffic</Table.Th>
              <Table.Th>Requests</Table.Th>
              <Table.Th>Error rate</Table.Th>
              <Table.Th>p95</Table.Th>
              <Table.Th>Ready</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {r.versions.map((v) => (
              <Table.Tr key={v.role}>
                <Table.Td>
                  {v.role} <Text span c="dimmed" size="xs">{v.model_version}</Text>
                </Table.Td>
                <Table.Td>{v.percent}%</Table.Td>
                <Table.Td>{v.metrics.requests}</Table.Td>
                <Table.Td>{formatNumber(v.metrics.error_rate * 100, 3)}%</Table.Td>
                <Table.Td>{v.metrics.requests ? `${formatNumber(v.metrics.p95_ms, 3)} ms` : '—'}</Table.Td>
                <Table.Td>{v.metrics.ready_replicas}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {r.reason && (
        <Text size="sm" c={r.phase === 'rolled_back' ? 'orange' : 'dimmed'} style={{ overflowWrap: 'anywhere' }} data-testid="rollout-reason">
          {r.reason}
        </Text>
      )}
      {running && (
        <Group gap="xs">
          <ConfirmButton label="Promote now" color="green" title="Promote the canary now?" message="All traffic moves to the canary version; the stable replicas drain (in-flight requests finish)." onConfirm={() => act('promote')} />
          <ConfirmButton label="Roll back" color="orange" title="Roll back to the stable version?" message="All traffic returns to the stable version; the canary replicas drain." onConfirm={() => act('rollback')} />
        </Group>
      )}
    </Stack>
  );
}

export function RolloutPanel({ ep, onEndpointChange }: { ep: Endpoint; onEndpointChange: () => void }) {
  const r = useApi<Rollout>(`/v1/endpoints/${enc(ep.name)}/rollout`, 3000);
  const status = rolloutStatus(r.data, r.error);
  const [starting, setStarting] = useState(false);
  const changed = () => {
    setStarting(false);
    r.reload();
    onEndpointChange();
  };
  if (status === 'unavailable') return <Text c="dimmed" size="sm">Canary and blue/green rollouts are not available on this server yet.</Text>;
  if (status === 'loading') return <Loading />;
  if (status === 'error') return <ErrorState error={r.error!} onRetry={r.reload} />;
  return (
    <Stack>
      {r.data && <RolloutView r={r.data} ep={ep} onChange={changed} />}
      {status === 'none' && !starting && <Text c="dimmed" size="sm">No rollout yet: {ep.model ? `${ep.model.name} v${ep.model.version}` : 'one version'} serves all traffic.</Text>}
      {status !== 'running' &&
        (starting ? (
          <StartRollout ep={ep} onStarted={changed} />
        ) : (
          <Group>
            <Button size="xs" variant="light" onClick={() => setStarting(true)} data-testid="new-rollout">
              New rollout…
            </Button>
          </Group>
        ))}
    </Stack>
  );
}
