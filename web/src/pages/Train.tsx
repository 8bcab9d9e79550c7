import { Alert, Anchor, Button, Card, Checkbox, SegmentedControl, Grid, Group, NumberInput, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMemo, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError, api, enc } from '../api/client';
import type { Dataset, DatasetVersion, Job, List } from '../api/types';
import { LmTrainForm } from '../components/LmTrainForm';
import { RunOnSelect } from '../components/RunOn';
import { Recommendation, usePlanAdvice } from '../components/TrainPlan';
import { StateBadge } from '../components/StateBadge';
import { Async, ConfirmButton, Empty, ErrorState } from '../components/states';
import { TERMINAL_JOB_STATES, timeAgo } from '../lib/format';
import { parseHidden, trainPlanRequest } from '../lib/plan';
import { placementFields } from '../lib/cluster';
import { useApi } from '../lib/useApi';

function TrainForm() {
  const navigate = useNavigate();
  const datasets = useApi<List<Dataset>>('/v1/datasets?limit=200');
  const [dataset, setDataset] = useState<string | null>(null);
  const [model, setModel] = useState('');
  const [task, setTask] = useState('auto');
  const [arch, setArch] = useState('auto');
  const [target, setTarget] = useState('');
  const [epochs, setEpochs] = useState<number | string>(10);
  const [batch, setBatch] = useState<number | string>(32);
  const [lr, setLr] = useState<number | string>(0.01);
  const [hidden, setHidden] = useState('64, 32');
  const [busy, setBusy] = useState(false);
  const [runOn, setRunOn] = useState('');
  const [usePlan, setUsePlan] = useState(true);
  const [error, setError] = useState<ApiError>();
  const version = useApi<DatasetVersion>(dataset ? `/v1/datasets/${enc(dataset)}/versions/latest` : null);
  const hiddenList = parseHidden(hidden);

  const planInput = useMemo(() => {
    const v = version.data;
    if (!v || !dataset) return null;
    const cols = v.schema.columns?.length ?? 2;
    return JSON.stringify(trainPlanRequest({ features: Math.max(1, cols - 1), rows: v.rows, epochs: Number(epochs) || 1, hidden: hiddenList ?? [], outputs: 3, deadlineHours: 24 }));
  }, [version.data, dataset, epochs, hidden]); // eslint-disable-line react-hooks/exhaustive-deps
  const { plan, error: planError, loading: planLoading } = usePlanAdvice(planInput);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(undefined);
    if (!dataset) return setError(new ApiError(400, 'invalid_argument', 'Choose a dataset.'));
    if (!model.trim()) return setError(new ApiError(400, 'invalid_argument', 'Name the model to train.'));
    if (hiddenList === null) return setError(new ApiError(400, 'invalid_argument', 'Hidden layers: 1 to 8 sizes like "64, 32".'));
    setBusy(true);
    try {
      const hyper: Record<string, unknown> = { epochs: Number(epochs), batch_size: Number(batch), learning_rate: Number(lr) };
      if (hiddenList.length) hyper.hidden = hiddenList;
      const body: Record<string, unknown> = { dataset, model: model.trim(), architecture: arch, hyperparameters: hyper };
      if (task !== 'auto') body.task = task;
      if (target.trim()) body.target = target.trim();
      if (usePlan && plan?.id) body.plan_id = plan.id;
      Object.assign(body, placementFields(runOn));
      const job = await api.post<Job>('/v1/jobs', body);
      navigate(`/jobs/${job.id}`);
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  };
  const columns = version.data?.schema.columns?.map((c) => c.name) ?? [];
  return (
    <Card withBorder>
      <form onSubmit={submit}>
        <Stack>
          <Title order={4}>New training job</Title>
          {datasets.error && <ErrorState error={datasets.error} onRetry={datasets.reload} />}
          <Grid>
            <Grid.Col span={{ base: 12, sm: 6 }}>
              <Select
                label="Dataset"
                placeholder={datasets.data?.items.length === 0 ? 'Upload a dataset first' : 'Choose…'}
                data={(datasets.data?.items ?? []).map((d) => d.name)}
                value={dataset}
                onChange={(v) => {
                  setDataset(v);
                  if (v && !model) setModel(v + '-model');
                }}
                searchable
                name="dataset"
                data-testid="dataset-select"
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6 }}>
              <TextInput label="Model name" value={model} onChange={(e) => setModel(e.currentTarget.value)} name="model" />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 4 }}>
              <Select label="Task" data={['auto', 'classification', 'regression']} value={task} onChange={(v) => setTask(v ?? 'auto')} allowDeselect={false} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 4 }}>
              <Select label="Model" data={[{ value: 'auto', label: 'auto' }, { value: 'mlp', label: 'MLP (tabular)' }, { value: 'cnn', label: 'CNN (images)' }]} value={arch} onChange={(v) => setArch(v ?? 'auto')} allowDeselect={false} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <Select label="Target column" placeholder="dataset default" data={columns} value={target || null} onChange={(v) => setTarget(v ?? '')} clearable />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <NumberInput label="Epochs" min={1} max={10000} value={epochs} onChange={setEpochs} name="epochs" />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <NumberInput label="Batch size" min={1} max={65536} value={batch} onChange={setBatch} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <NumberInput label="Learning rate" min={0} step={0.001} decimalScale={6} value={lr} onChange={setLr} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <TextInput label="Hidden layers" value={hidden} onChange={(e) => setHidden(e.currentTarget.value)} error={hiddenList === null ? 'e.g. 64, 32' : undefined} />
            </Grid.Col>
          </Grid>
          <RunOnSelect kind="jobs" value={runOn} onChange={setRunOn} />
          <Card withBorder bg="gray.0">
            <Text fw={600} size="sm" mb={4}>
              Planner estimate
            </Text>
            <Recommendation plan={plan} error={planError} loading={planLoading} />
            {plan?.id !== undefined && (
              <Checkbox
                mt="xs"
                size="xs"
                label={`Train with this plan (#${plan.id}): the job records the plan and takes its checkpoint interval`}
                checked={usePlan}
                onChange={(e) => setUsePlan(e.currentTarget.checked)}
                data-testid="use-plan"
              />
            )}
          </Card>
          {error && (
            <Alert color="red" data-testid="train-error">
              {error.message}
            </Alert>
          )}
          <Group>
            <Button type="submit" loading={busy} data-testid="start-training">
              Start training
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function progressText(j: Job): string {
  const p = j.progress as { epoch?: number; epochs?: number; step?: number; steps?: number; max_steps?: number };
  if (p?.epochs) return `${p.epoch}/${p.epochs}`;
  const total = p?.steps ?? p?.max_steps;
  if (p?.step !== undefined) return total ? `step ${p.step}/${total}` : `step ${p.step}`;
  return '—';
}

export function JobsTable({ jobs, onChange }: { jobs: Job[]; onChange: () => void }) {
  return (
    <Table.ScrollContainer minWidth={520}>
      <Table striped data-testid="jobs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Job</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Dataset</Table.Th>
            <Table.Th>Progress</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {jobs.map((j) => (
            <Table.Tr key={j.id}>
              <Table.Td>
                <Anchor component={Link} to={`/jobs/${j.id}`}>
                  #{j.id} {j.name}
                </Anchor>
              </Table.Td>
              <Table.Td>
                <StateBadge state={j.state} />
              </Table.Td>
              <Table.Td>{j.dataset ? `${j.dataset.name} v${j.dataset.version}` : '—'}</Table.Td>
              <Table.Td>{progressText(j)}</Table.Td>
              <Table.Td>{timeAgo(j.created_at)}</Table.Td>
              <Table.Td>
                {!TERMINAL_JOB_STATES.has(j.state) && (
                  <ConfirmButton label="Cancel" title={`Cancel job #${j.id}?`} message="The worker is stopped; progress since the last checkpoint is lost." onConfirm={async () => { await api.post(`/v1/jobs/${j.id}/cancel`); onChange(); }} />
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function TrainPage() {
  const jobs = useApi<List<Job>>('/v1/jobs?limit=100', 3000);
  const [params, setParams] = useSearchParams();
  const lm = params.get('kind') === 'lm';
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={2}>Train</Title>
        <SegmentedControl
          size="xs"
          data={[{ value: 'model', label: 'Tabular / images' }, { value: 'lm', label: 'Language model' }]}
          value={lm ? 'lm' : 'model'}
          onChange={(v) => setParams(v === 'lm' ? { kind: 'lm' } : {})}
          data-testid="train-kind"
        />
      </Group>
      {lm ? <LmTrainForm /> : <TrainForm />}
      <Card withBorder>
        <Title order={4} mb="sm">
          Jobs
        </Title>
        <Async state={jobs} empty={(d) => (d.items.length ? null : <Empty title="No training jobs yet">Fill in the form above to start one.</Empty>)}>
          {(d) => <JobsTable jobs={[...d.items].sort((a, b) => b.id - a.id)} onChange={jobs.reload} />}
        </Async>
      </Card>
    </Stack>
  );
}
