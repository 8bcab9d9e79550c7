import { LineChart } from '@mantine/charts';
import { Anchor, Badge, Button, Card, Code, Grid, Group, Progress, ScrollArea, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { api, enc } from '../api/client';
import type { CostReport, Event, Job, JobMetric, List } from '../api/types';
import { costUnavailable } from '../components/cost';
import { JobTimeline } from '../components/JobTimeline';
import { StateBadge } from '../components/StateBadge';
import { Async, ConfirmButton, Empty, ErrorState, Loading } from '../components/states';
import { jobIdFromCostKey, metricSeries, splitLossKeys } from '../lib/charts';
import { TERMINAL_JOB_STATES, formatDuration, formatNumber, formatTime, formatUsd, timeAgo } from '../lib/format';
import { isLmJob } from '../lib/lmjob';
import { jobControls } from '../lib/timeline';
import { useApi } from '../lib/useApi';

const COLORS = ['blue.6', 'orange.6', 'green.6', 'grape.6', 'red.6', 'teal.6'];

function Curves({ metrics, unit = 'epoch' }: { metrics: JobMetric[]; unit?: string }) {
  const { rows, keys } = metricSeries(metrics);
  if (!rows.length) return <Empty title="No metrics yet">Curves appear after the first {unit}.</Empty>;
  const split = splitLossKeys(keys);
  const loss = split.loss;
  // LM jobs report lr, grad_norm and token counts per step too; only throughput shares a chart.
  const other = unit === 'step' ? split.other.filter((k) => k === 'tokens_per_second') : split.other;
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
              xAxisLabel={unit}
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

// Keyed by id, so moving to another job starts from a clean state.
export function JobPage() {
  const { id = '' } = useParams();
  return <JobView key={id} id={id} />;
}

function JobView({ id }: { id: string }) {
  const job = useApi<Job>(`/v1/jobs/${enc(id)}`, 2000);
  const done = job.data ? TERMINAL_JOB_STATES.has(job.data.state) : false;
  const poll = done ? 0 : 2000;
  const metrics = useApi<List<JobMetric>>(`/v1/jobs/${enc(id)}/metrics?limit=1000` + (done ? '&final=1' : ''), poll, true);
  const logs = useApi<string>(`/v1/jobs/${enc(id)}/logs` + (done ? '?final=1' : ''), poll, true);
  const events = useApi<List<Event>>(`/v1/jobs/${enc(id)}/events`, done ? 0 : 3000);
  const [resuming, setResuming] = useState(false);
  const [controlError, setControlError] = useState<Error>();
  if (!job.data) return job.error ? <ErrorState error={job.error} onRetry={job.reload} /> : <Loading />;
  const j = job.data;
  const controls = jobControls(j.state);
  const act = async (what: string, body?: unknown) => {
    await api.post(`/v1/jobs/${j.id}/${what}`, body ?? {});
    job.reload();
    events.reload();
  };
  const resume = async () => {
    if (resuming) return;
    setResuming(true);
    setControlError(undefined);
    try {
      await act('resume');
    } catch (e) {
      setControlError(e as Error);
    } finally {
      setResuming(false);
    }
  };
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
          {controls.pause && (
            <ConfirmButton label="Pause" color="gray" title={`Pause job #${j.id}?`} message="The job checkpoints and releases its compute; resume it later from the checkpoint." onConfirm={() => act('pause')} />
          )}
          {controls.resume && (
            <Button size="xs" variant="light" loading={resuming} onClick={resume} data-testid="resume">
              Resume
            </Button>
          )}
          {controls.notice && (
            <ConfirmButton label="Simulate preemption" color="orange" title={`Send job #${j.id} a preemption notice?`} message="Like a spot interruption notice: the worker checkpoints at its next step, stops, and the job is relaunched from the checkpoint." onConfirm={() => act('notice', { deadline_seconds: 120, reason: 'preemption notice from the console' })} />
          )}
          {!done && (
            <ConfirmButton label="Cancel job" title={`Cancel job #${j.id}?`} message="The worker is stopped; progress since the last checkpoint is lost." onConfirm={async () => { await api.post(`/v1/jobs/${j.id}/cancel`); job.reload(); }} />
          )}
        </Group>
      </Group>
      {job.error && <ErrorState title="Lost contact with the server; retrying" error={job.error} />}
      {controlError && <ErrorState title="Could not resume the job" error={controlError} />}
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
              {j.checkpoint?.available && (
                <Badge variant="light" color="blue" data-testid="checkpoint-badge">
                  checkpoint at epoch {j.checkpoint.epoch}
                </Badge>
              )}
              {(j.preemptions ?? 0) > 0 && (
                <Badge variant="light" color="orange">
                  {j.preemptions} preemptions
                </Badge>
              )}
              {j.model_version && (
                <Anchor component={Link} to={`/models/${enc(j.model_version.name)}?version=${j.model_version.version}`} data-testid="job-model-link">
                  → model {j.model_version.name} v{j.model_version.version}
                </Anchor>
              )}
            </Group>
            <Progress value={pct} mb={4} />
            <Text size="xs" c="dimmed">
              {j.progress?.epochs ? `${isLmJob(j) ? 'step' : 'epoch'} ${j.progress.epoch} of ${j.progress.epochs}` : j.state} · created {formatTime(j.created_at)}
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
        <Async state={metrics}>{(m) => <Curves metrics={m.items} unit={isLmJob(j) ? 'step' : 'epoch'} />}</Async>
      </Card>
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Card withBorder h="100%">
            <Title order={4} mb="sm">
              Timeline
            </Title>
            {events.error && !events.data ? (
              <ErrorState error={events.error} onRetry={events.reload} />
            ) : !events.data ? (
              <Loading />
            ) : (
              <JobTimeline events={events.data.items} jobId={j.id} />
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
