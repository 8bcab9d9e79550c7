import { LineChart } from '@mantine/charts';
import { Anchor, Badge, Card, Code, Grid, Group, Progress, ScrollArea, Stack, Text, Title } from '@mantine/core';
import { Link, useParams } from 'react-router-dom';
import { api, enc } from '../api/client';
import type { CostReport, Event, Job, JobMetric, List } from '../api/types';
import { costUnavailable } from '../components/cost';
import { StateBadge } from '../components/StateBadge';
import { Async, ConfirmButton, Empty, ErrorState, Loading } from '../components/states';
import { jobIdFromCostKey, metricSeries, splitLossKeys } from '../lib/charts';
import { TERMINAL_JOB_STATES, formatDuration, formatNumber, formatTime, formatUsd, timeAgo } from '../lib/format';
import { useApi } from '../lib/useApi';

const COLORS = ['blue.6', 'orange.6', 'green.6', 'grape.6', 'red.6', 'teal.6'];

function Curves({ metrics }: { metrics: JobMetric[] }) {
  const { rows, keys } = metricSeries(metrics);
  if (!rows.length) return <Empty title="No metrics yet">Curves appear after the first epoch.</Empty>;
  const { loss, other } = splitLossKeys(keys);
  return (
    <Grid>
      {[loss, other].filter((k) => k.length).map((group, idx) => (
        <Grid.Col key={idx} span={{ base: 12, md: other.length && loss.length ? 6 : 12 }}>
          <Text size="sm" fw={600} mb={4}>
            {idx === 0 && loss.length ? 'Loss' : 'Metrics'}
          </Text>
          <div data-testid={idx === 0 && loss.length ? 'loss-chart' : 'metric-chart'}>
            <LineChart
              h={220}
              data={rows}
              dataKey="epoch"
              series={group.map((k, kidx) => ({ name: k, color: COLORS[kidx % COLORS.length] }))}
              curveType="linear"
              withLegend
              valueFormatter={(v) => formatNumber(v)}
              xAxisLabel="epoch"
            />
          </div>
        </Grid.Col>
      ))}
    </Grid>
  );
}

function JobCost({ id }: { id: number }) {
  const cost = useApi<CostReport>('/v1/cost?group_by=job', 10000);
  if (costUnavailable(cost.error)) return <Text c="dimmed" size="sm">Cost is not available on this server yet.</Text>;
  if (cost.error && !cost.data) return <ErrorState error={cost.error} onRetry={cost.reload} />;
  if (!cost.data) return <Loading />;
  const g = cost.data.groups.find((x) => jobIdFromCostKey(x.key) === id);
  return (
    <Stack gap={2}>
      <Text size="xl" fw={700} data-testid="job-cost">
        {formatUsd(g?.cost_usd ?? 0)}
      </Text>
      <Text size="xs" c="dimmed">
        {g ? `${formatDuration(g.compute_seconds)} of compute · saved ${formatUsd(g.savings_usd)}` : 'no usage priced yet'}
      </Text>
    </Stack>
  );
}

export function JobPage() {
  const { id = '' } = useParams();
  const job = useApi<Job>(`/v1/jobs/${enc(id)}`, 2000);
  const done = job.data ? TERMINAL_JOB_STATES.has(job.data.state) : false;
  const poll = done ? 0 : 2000;
  const metrics = useApi<List<JobMetric>>(`/v1/jobs/${enc(id)}/metrics?limit=1000` + (done ? '&final=1' : ''), poll);
  const logs = useApi<string>(`/v1/jobs/${enc(id)}/logs` + (done ? '?final=1' : ''), poll);
  const events = useApi<List<Event>>(`/v1/events?kind=job&subject_id=${enc(id)}&limit=200`, done ? 0 : 4000);
  if (!job.data) return job.error ? <ErrorState error={job.error} onRetry={job.reload} /> : <Loading />;
  const j = job.data;
  const timeline = (events.data?.items ?? []).filter((e) => e.kind === 'job' && e.subject_id === j.id).sort((a, b) => a.id - b.id);
  const pct = j.progress?.epochs ? (100 * (j.progress.epoch ?? 0)) / j.progress.epochs : j.state === 'succeeded' ? 100 : 0;
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={2} style={{ overflowWrap: 'anywhere' }}>
          <Anchor component={Link} to="/train" inherit>
            Train
          </Anchor>{' '}
          / job #{j.id} {j.name}
        </Title>
        <Group gap="xs">
          <StateBadge state={j.state} />
          {!done && (
            <ConfirmButton label="Cancel job" title={`Cancel job #${j.id}?`} message="The worker is stopped; progress since the last checkpoint is lost." onConfirm={async () => { await api.post(`/v1/jobs/${j.id}/cancel`); job.reload(); }} />
          )}
        </Group>
      </Group>
      {job.error && <ErrorState title="Lost contact with the server; retrying" error={job.error} />}
      <Grid>
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Card withBorder h="100%">
            <Group gap="xs" wrap="wrap" mb="xs">
              {j.dataset && (
                <Badge variant="light">
                  dataset {j.dataset.name} v{j.dataset.version}
                </Badge>
              )}
              <Badge variant="light">{j.spec.model ?? 'auto'}</Badge>
              {j.spec.task && <Badge variant="light">{j.spec.task}</Badge>}
              <Badge variant="light">attempt {j.attempts}</Badge>
              {j.model_version && (
                <Anchor component={Link} to={`/models/${enc(j.model_version.name)}?version=${j.model_version.version}`} data-testid="job-model-link">
                  → model {j.model_version.name} v{j.model_version.version}
                </Anchor>
              )}
            </Group>
            <Progress value={pct} mb={4} />
            <Text size="xs" c="dimmed">
              {j.progress?.epochs ? `epoch ${j.progress.epoch} of ${j.progress.epochs}` : j.state} · created {formatTime(j.created_at)}
              {j.finished_at ? ` · finished ${timeAgo(j.finished_at)}` : ''}
            </Text>
            {j.reason && (
              <Text size="sm" c={j.state === 'failed' ? 'red' : 'dimmed'} mt="xs" data-testid="job-reason">
                {j.reason}
              </Text>
            )}
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Card withBorder h="100%">
            <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
              Cost so far
            </Text>
            <JobCost id={j.id} />
          </Card>
        </Grid.Col>
      </Grid>
      <Card withBorder>
        <Title order={4} mb="sm">
          Curves
        </Title>
        <Async state={metrics}>{(m) => <Curves metrics={m.items} />}</Async>
      </Card>
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Card withBorder h="100%">
            <Title order={4} mb="sm">
              Timeline
            </Title>
            {events.error && !events.data ? (
              <ErrorState error={events.error} onRetry={events.reload} />
            ) : timeline.length === 0 ? (
              <Text c="dimmed" size="sm">No events yet.</Text>
            ) : (
              <Stack gap={6} data-testid="timeline">
                {timeline.map((e) => (
                  <Group key={e.id} gap="xs" wrap="nowrap" align="flex-start">
                    <div style={{ flexShrink: 0 }}>
                      <StateBadge state={e.action} />
                    </div>
                    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                      {e.message}{' '}
                      <Text span size="xs" c="dimmed">
                        {timeAgo(e.created_at)}
                      </Text>
                    </Text>
                  </Group>
                ))}
              </Stack>
            )}
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Card withBorder h="100%">
            <Title order={4} mb="sm">
              Logs
            </Title>
            <Async state={logs}>
              {(text) =>
                text ? (
                  <ScrollArea h={260} type="auto">
                    <Code block data-testid="job-logs" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
                      {text}
                    </Code>
                  </ScrollArea>
                ) : (
                  <Text c="dimmed" size="sm">
                    No log output yet.
                  </Text>
                )
              }
            </Async>
          </Card>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
