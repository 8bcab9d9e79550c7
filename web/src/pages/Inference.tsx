import { Alert, Anchor, Badge, Button, Card, Code, Grid, Group, Select, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, api, enc } from '../api/client';
import type { Endpoint, List, Model, ModelVersion } from '../api/types';
import { ChatPlayground } from '../components/ChatPlayground';
import { EndpointTraffic } from '../components/EndpointTraffic';
import { RolloutPanel } from '../components/Rollout';
import { RunOnSelect } from '../components/RunOn';
import { ServePlanView, useServePlan } from '../components/ServePlan';
import { StateBadge } from '../components/StateBadge';
import { Async, ConfirmButton, Empty, ErrorState, Loading } from '../components/states';
import { formatNumber, formatTime } from '../lib/format';
import { placementFields } from '../lib/cluster';
import { modeForServeOption } from '../lib/plan';
import { useApi } from '../lib/useApi';

const MODES = [
  { value: 'dedicated', label: 'Dedicated (always on)' },
  { value: 'serverless', label: 'Serverless (scale to zero)' },
  { value: 'spot', label: 'Spot (cheaper, on-demand fallback)' },
];

function CreateEndpoint({ onCreated }: { onCreated: (e: Endpoint) => void }) {
  const models = useApi<List<Model>>('/v1/models?limit=200');
  const [model, setModel] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [mode, setMode] = useState('dedicated');
  const [runOn, setRunOn] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const advice = useServePlan(model, null);
  const planned = advice.plan ? modeForServeOption(advice.plan.best.kind) : null;
  const deploy = async (withPlan: boolean) => {
    if (busy) return;
    if (!model || !name.trim()) return setError(new ApiError(400, 'invalid_argument', 'Choose a model and name the endpoint.'));
    setBusy(true);
    setError(undefined);
    try {
      const body: Record<string, unknown> = { name: name.trim(), model, mode };
      if (withPlan && advice.plan && planned) {
        body.mode = planned.mode;
        body.plan_id = advice.plan.id;
        if (advice.version) body.version = advice.version.version;
      }
      Object.assign(body, placementFields(runOn));
      const ep = await api.post<Endpoint>('/v1/endpoints', body);
      onCreated(ep);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    void deploy(false);
  };
  return (
    <Card withBorder>
      <form onSubmit={submit}>
        <Stack>
          <Title order={4}>Deploy a model</Title>
          {models.error && <ErrorState error={models.error} onRetry={models.reload} />}
          <Grid>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <Select
                label="Model"
                placeholder={models.data?.items.length === 0 ? 'Train a model first' : 'Choose…'}
                data={(models.data?.items ?? []).map((m) => m.name)}
                value={model}
                onChange={(v) => {
                  setModel(v);
                  if (v && !name) setName(v);
                }}
                data-testid="endpoint-model"
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <TextInput label="Endpoint name" value={name} onChange={(e) => setName(e.currentTarget.value)} name="endpoint-name" />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <Select label="Mode" data={MODES} value={mode} onChange={(v) => setMode(v ?? 'dedicated')} allowDeselect={false} />
            </Grid.Col>
          </Grid>
          <RunOnSelect kind="endpoints" value={runOn} onChange={setRunOn} />
          <Card withBorder bg="gray.0">
            <Text fw={600} size="sm" mb={4}>
              Planner advice
            </Text>
            <ServePlanView state={advice} />
          </Card>
          {planned?.note && (
            <Text size="xs" c="dimmed">
              {planned.note}
            </Text>
          )}
          {error && <Alert color="red" data-testid="deploy-error">{error.message}</Alert>}
          <Group>
            <Button type="submit" loading={busy} data-testid="deploy">
              Deploy
            </Button>
            <Button variant="light" disabled={!advice.plan || busy} onClick={() => void deploy(true)} data-testid="deploy-with-plan">
              Deploy with this plan{planned ? ` (${planned.mode})` : ''}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

export function InferencePage() {
  const list = useApi<List<Endpoint>>('/v1/endpoints?limit=200', 3000);
  const navigate = useNavigate();
  return (
    <Stack>
      <Title order={2}>Inference</Title>
      <CreateEndpoint onCreated={(e) => navigate(`/inference/${enc(e.name)}`)} />
      <Card withBorder>
        <Title order={4} mb="sm">
          Endpoints
        </Title>
        <Async state={list} empty={(d) => (d.items.length ? null : <Empty title="No endpoints yet">Deploy a trained model above.</Empty>)}>
          {(d) => (
            <Table.ScrollContainer minWidth={560}>
              <Table striped data-testid="endpoints">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>State</Table.Th>
                    <Table.Th>Model</Table.Th>
                    <Table.Th>Mode</Table.Th>
                    <Table.Th>Replicas</Table.Th>
                    <Table.Th>URL</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {d.items.map((e) => (
                    <Table.Tr key={e.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/inference/${enc(e.name)}`}>
                          {e.name}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        <StateBadge state={e.state} />
                      </Table.Td>
                      <Table.Td>{e.model ? `${e.model.name} v${e.model.version}` : '—'}</Table.Td>
                      <Table.Td>{e.mode ?? 'dedicated'}</Table.Td>
                      <Table.Td>{e.replicas.filter((r) => r.ready).length}/{e.replicas.length}</Table.Td>
                      <Table.Td>
                        <Code>{e.url}</Code>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Async>
      </Card>
    </Stack>
  );
}

function Playground({ ep }: { ep: Endpoint }) {
  const mv = useApi<ModelVersion>(ep.model ? `/v1/models/${enc(ep.model.name)}/versions/${ep.model.version}` : null);
  const columns = mv.data?.metadata.input?.kind === 'tabular' ? mv.data.metadata.input.columns ?? [] : [];
  const [values, setValues] = useState<Record<string, string>>({});
  const [raw, setRaw] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<unknown>();
  const [error, setError] = useState<ApiError>();
  const send = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    let body: unknown;
    if (columns.length) {
      const row: Record<string, string | number> = {};
      for (const c of columns) {
        const v = (values[c] ?? '').trim();
        row[c] = v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
      }
      body = [row];
    } else {
      try {
        body = JSON.parse(raw);
      } catch {
        return setError(new ApiError(400, 'invalid_argument', 'The request is not valid JSON.'));
      }
    }
    setBusy(true);
    setError(undefined);
    try {
      setResult(await api.post(`/v1/endpoints/${enc(ep.name)}/predict`, body));
    } catch (err) {
      setResult(undefined);
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const r = result as { predictions?: unknown[]; probabilities?: number[][] } | undefined;
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        Playground
      </Title>
      {ep.state !== 'ready' && (
        <Alert color="yellow" mb="sm">
          The endpoint is {ep.state}; predictions work once it is ready.
        </Alert>
      )}
      {mv.error && <ErrorState error={mv.error} onRetry={mv.reload} />}
      <form onSubmit={send}>
        <Stack>
          {columns.length ? (
            <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
              {columns.map((c) => (
                <TextInput key={c} label={c} name={`feature-${c}`} value={values[c] ?? ''} onChange={(e) => setValues({ ...values, [c]: e.currentTarget.value })} />
              ))}
            </SimpleGrid>
          ) : (
            <Textarea label="Request body (JSON)" placeholder='[{"feature": 1.0}] or {"instances": [...]}' autosize minRows={3} value={raw} onChange={(e) => setRaw(e.currentTarget.value)} />
          )}
          <Group>
            <Button type="submit" loading={busy} data-testid="predict">
              Predict
            </Button>
          </Group>
          {error && <Alert color="red">{error.message}</Alert>}
          {r !== undefined && (
            <Stack gap={4}>
              {Array.isArray(r.predictions) && (
                <Text data-testid="prediction">
                  Prediction: <b>{r.predictions.map((p) => (typeof p === 'number' ? formatNumber(p) : String(p))).join(', ')}</b>
                </Text>
              )}
              <Code block style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
                {JSON.stringify(result, null, 2)}
              </Code>
            </Stack>
          )}
        </Stack>
      </form>
    </Card>
  );
}

// An endpoint serving a language model gets the chat playground (the model version's task is "lm").
function isLm(e: Endpoint): boolean {
  return e.model?.task === 'lm' || e.model?.task === 'text-generation';
}

export function EndpointPage() {
  const { name = '' } = useParams();
  const navigate = useNavigate();
  const ep = useApi<Endpoint>(`/v1/endpoints/${enc(name)}`, 3000);
  if (!ep.data) return ep.error ? <ErrorState error={ep.error} onRetry={ep.reload} /> : <Loading />;
  const e = ep.data;
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={2} style={{ overflowWrap: 'anywhere' }}>
          <Anchor component={Link} to="/inference" inherit>
            Inference
          </Anchor>{' '}
          / {e.name}
        </Title>
        <Group gap="xs">
          <StateBadge state={e.state} />
          <ConfirmButton
            label="Delete endpoint"
            title={`Delete endpoint '${e.name}'?`}
            message="Its replicas stop and the URL stops answering."
            onConfirm={async () => {
              await api.del(`/v1/endpoints/${enc(e.name)}`);
              navigate('/inference');
            }}
          />
        </Group>
      </Group>
      <Card withBorder>
        <Group gap="xs" wrap="wrap">
          {e.model && (
            <Anchor component={Link} to={`/models/${enc(e.model.name)}?version=${e.model.version}`}>
              model {e.model.name} v{e.model.version}
            </Anchor>
          )}
          <Badge variant="light">{e.mode ?? 'dedicated'}</Badge>
          <Badge variant="light" data-testid="replicas">
            {e.replicas.filter((r) => r.ready).length}/{e.replicas.length} replicas ready
          </Badge>
          <Badge variant="light">{e.restarts} restarts</Badge>
          <Code>POST {e.url}</Code>
        </Group>
        {e.reason && (
          <Text size="sm" c={e.state === 'failed' ? 'red' : 'dimmed'} mt="xs">
            {e.reason}
          </Text>
        )}
        <Text size="xs" c="dimmed" mt="xs">
          Created {formatTime(e.created_at)}
        </Text>
      </Card>
      <Card withBorder>
        <Title order={4} mb="sm">
          Traffic
        </Title>
        <EndpointTraffic name={e.name} />
      </Card>
      <Card withBorder>
        <Title order={4} mb="sm">
          Rollout
        </Title>
        <RolloutPanel ep={e} onEndpointChange={ep.reload} />
      </Card>
      {isLm(e) ? <ChatPlayground ep={e} /> : <Playground ep={e} />}
    </Stack>
  );
}
