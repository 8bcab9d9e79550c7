import { Alert, Anchor, Badge, Button, Card, Group, Progress, Select, Stack, Table, Tabs, Text, TextInput, Title } from '@mantine/core';
import { Dropzone } from '@mantine/dropzone';
import { useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { ApiError, api, enc, uploadFile } from '../api/client';
import type { Dataset, DatasetVersion, List } from '../api/types';
import { Async, ConfirmButton, Empty } from '../components/states';
import { checkDatasetFile, datasetNameFromFile, errorLocation, formatBytes, formatNumber, formatTime } from '../lib/format';
import { useApi } from '../lib/useApi';

function UploadCard({ onDone, fixedName }: { onDone: (v: DatasetVersion) => void; fixedName?: string }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState(fixedName ?? '');
  const [target, setTarget] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const pick = (files: File[]) => {
    const f = files[0];
    if (!f) return;
    setError(null);
    const problem = checkDatasetFile(f.name);
    if (problem) {
      setFile(null);
      setError(new ApiError(400, 'invalid_argument', problem));
      return;
    }
    setFile(f);
    if (!fixedName) setName(datasetNameFromFile(f.name));
  };
  const submit = async () => {
    if (!file || busy) return;
    setBusy(true);
    setError(null);
    setProgress(0);
    const q = new URLSearchParams({ filename: file.name });
    if (target.trim()) q.set('target', target.trim());
    try {
      const v = await uploadFile<DatasetVersion>(`/v1/datasets/${enc(name)}/versions?${q}`, file, setProgress).promise;
      setFile(null);
      onDone(v);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };
  const loc = error ? errorLocation(error.details, error.message) : {};
  return (
    <Card withBorder>
      <Stack>
        <Title order={4}>{fixedName ? 'Upload a new version' : 'Upload a dataset'}</Title>
        <Dropzone onDrop={pick} multiple={false} maxSize={64 * 1024 ** 3} disabled={busy} data-testid="dropzone">
          <Stack align="center" gap={4} py="md">
            <Text fw={600}>Drop a file here or click to choose</Text>
            <Text size="sm" c="dimmed" ta="center">
              CSV (tabular), JSONL (text), IDX or an image-folder archive. Large files stream to the server.
            </Text>
            {file && (
              <Badge variant="light" data-testid="picked-file">
                {file.name} · {formatBytes(file.size)}
              </Badge>
            )}
          </Stack>
        </Dropzone>
        <Group grow align="flex-start" wrap="wrap">
          <TextInput label="Dataset name" value={name} onChange={(e) => setName(e.currentTarget.value)} disabled={!!fixedName} name="dataset-name" miw={180} />
          <TextInput label="Target column (optional)" placeholder="last column" value={target} onChange={(e) => setTarget(e.currentTarget.value)} miw={180} />
        </Group>
        {progress !== null && <Progress value={progress * 100} animated data-testid="upload-progress" />}
        {error && (
          <Alert color="red" title="The upload was rejected" data-testid="upload-error">
            <Stack gap={4}>
              {(loc.line !== undefined || loc.column !== undefined) && (
                <Group gap="xs">
                  {loc.line !== undefined && <Badge color="red" data-testid="error-line">line {loc.line}</Badge>}
                  {loc.column !== undefined && <Badge color="red" data-testid="error-column">column {loc.column}</Badge>}
                </Group>
              )}
              <Text size="sm">{error.message}</Text>
            </Stack>
          </Alert>
        )}
        <Group>
          <Button onClick={submit} disabled={!file || !name.trim()} loading={busy}>
            Upload
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

export function DataPage() {
  const list = useApi<List<Dataset>>('/v1/datasets?limit=200');
  const navigate = useNavigate();
  return (
    <Stack>
      <Title order={2}>Data</Title>
      <UploadCard onDone={(v) => navigate(`/data/${enc(v.dataset)}?version=${v.version}`)} />
      <Card withBorder>
        <Title order={4} mb="sm">
          Datasets
        </Title>
        <Async state={list} empty={(d) => (d.items.length ? null : <Empty title="No datasets yet">Upload a CSV above to create your first dataset.</Empty>)}>
          {(d) => (
            <Table.ScrollContainer minWidth={360}>
              <Table striped data-testid="datasets">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Latest version</Table.Th>
                    <Table.Th>Created</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {d.items.map((ds) => (
                    <Table.Tr key={ds.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/data/${enc(ds.name)}`}>
                          {ds.name}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>v{ds.latest_version}</Table.Td>
                      <Table.Td>{formatTime(ds.created_at)}</Table.Td>
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

interface Preview { rows: Record<string, unknown>[] | unknown[] }
interface Stats { rows: number; schema: DatasetVersion['schema']; statistics: { columns?: Record<string, unknown>[]; [k: string]: unknown } }

function PreviewTable({ rows }: { rows: Preview['rows'] }) {
  if (!rows.length) return <Empty title="This version has no rows to preview" />;
  const objects = rows.filter((r) => r && typeof r === 'object' && !Array.isArray(r)) as Record<string, unknown>[];
  const cols = objects.length ? Object.keys(objects[0]) : [];
  if (!cols.length) return <pre style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{rows.map((r) => JSON.stringify(r)).join('\n')}</pre>;
  return (
    <Table.ScrollContainer minWidth={cols.length * 90}>
      <Table striped withTableBorder data-testid="preview-table">
        <Table.Thead>
          <Table.Tr>
            {cols.map((c) => (
              <Table.Th key={c}>{c}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {objects.map((r, idx) => (
            <Table.Tr key={idx}>
              {cols.map((c) => (
                <Table.Td key={c}>{typeof r[c] === 'object' ? JSON.stringify(r[c]) : String(r[c] ?? '')}</Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function StatsTable({ stats }: { stats: Stats }) {
  const cols = stats.statistics.columns ?? [];
  if (!cols.length) return <pre style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{JSON.stringify(stats.statistics, null, 2)}</pre>;
  const keys = [...new Set(cols.flatMap((c) => Object.keys(c)))].filter((k) => typeof cols[0][k] !== 'object' || k === 'name');
  return (
    <Table.ScrollContainer minWidth={keys.length * 90}>
      <Table striped withTableBorder data-testid="stats-table">
        <Table.Thead>
          <Table.Tr>
            {keys.map((k) => (
              <Table.Th key={k}>{k}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {cols.map((c, idx) => (
            <Table.Tr key={idx}>
              {keys.map((k) => (
                <Table.Td key={k}>{typeof c[k] === 'object' && c[k] !== null ? JSON.stringify(c[k]) : formatNumber(c[k])}</Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function DatasetPage() {
  const { name = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const versions = useApi<List<DatasetVersion>>(`/v1/datasets/${enc(name)}/versions?limit=200`);
  const latest = versions.data?.items.reduce((m, v) => Math.max(m, v.version), 0) ?? 0;
  const version = Number(params.get('version')) || latest;
  const base = version ? `/v1/datasets/${enc(name)}/versions/${version}` : null;
  const preview = useApi<Preview>(base && `${base}/preview?limit=20`);
  const stats = useApi<Stats>(base && `${base}/statistics`);
  const current = versions.data?.items.find((v) => v.version === version);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} style={{ overflowWrap: 'anywhere' }}>
          <Anchor component={Link} to="/data" inherit>
            Data
          </Anchor>{' '}
          / {name}
        </Title>
        <ConfirmButton
          label="Delete dataset"
          title={`Delete dataset '${name}'?`}
          message="Every version of this dataset is deleted. Models trained on it keep their weights."
          onConfirm={async () => {
            await api.del(`/v1/datasets/${enc(name)}`);
            navigate('/data');
          }}
        />
      </Group>
      <Async state={versions} empty={(d) => (d.items.length ? null : <Empty title="This dataset has no versions" />)}>
        {(d) => (
          <Card withBorder>
            <Group align="flex-end" wrap="wrap">
              <Select
                label="Version"
                value={String(version)}
                data={d.items.map((v) => ({ value: String(v.version), label: `v${v.version} — ${v.filename || v.format}` }))}
                onChange={(v) => v && setParams({ version: v })}
                allowDeselect={false}
                w={260}
              />
              {current && (
                <Group gap="xs" wrap="wrap">
                  <Badge variant="light">{current.format}</Badge>
                  <Badge variant="light" data-testid="row-count">
                    {current.rows} rows
                  </Badge>
                  <Badge variant="light">{formatBytes(current.size_bytes)}</Badge>
                  {current.schema.task && <Badge variant="light">{String(current.schema.task)}</Badge>}
                  {current.schema.target && <Badge variant="light">target: {String(current.schema.target)}</Badge>}
                </Group>
              )}
            </Group>
          </Card>
        )}
      </Async>
      <Tabs defaultValue="preview">
        <Tabs.List>
          <Tabs.Tab value="preview">Preview</Tabs.Tab>
          <Tabs.Tab value="stats">Statistics</Tabs.Tab>
          <Tabs.Tab value="upload">New version</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="preview" pt="sm">
          {base ? <Async state={preview}>{(p) => <PreviewTable rows={p.rows} />}</Async> : null}
        </Tabs.Panel>
        <Tabs.Panel value="stats" pt="sm">
          {base ? <Async state={stats}>{(s) => <StatsTable stats={s} />}</Async> : null}
        </Tabs.Panel>
        <Tabs.Panel value="upload" pt="sm">
          <UploadCard
            fixedName={name}
            onDone={(v) => {
              versions.reload();
              setParams({ version: String(v.version) });
            }}
          />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
