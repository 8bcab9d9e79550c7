import { Anchor, Badge, Button, Card, Group, Select, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { enc } from '../api/client';
import type { List, Model, ModelVersion } from '../api/types';
import { Gallery } from '../components/Gallery';
import { LmDetails, TorchScriptDetails } from '../components/ModelDetails';
import { ModelProfileCard } from '../components/ModelProfile';
import { UploadModel } from '../components/UploadModel';
import { VisibilityToggle } from '../components/VisibilityToggle';
import { isLmManifest } from '../lib/gallery';
import { Async, Empty } from '../components/states';
import { formatBytes, formatNumber, formatTime } from '../lib/format';
import { useApi } from '../lib/useApi';

export function ModelsPage() {
  const list = useApi<List<Model>>('/v1/models?limit=200', 10000);
  const [uploading, setUploading] = useState(false);
  const navigate = useNavigate();
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Models</Title>
        {!uploading && (
          <Button size="xs" variant="light" onClick={() => setUploading(true)} data-testid="open-upload-model">
            Upload a TorchScript model
          </Button>
        )}
      </Group>
      {uploading && <UploadModel onUploaded={(v) => navigate(`/models/${enc(v.model)}?version=${v.version}`)} />}
      <Card withBorder>
        <Title order={4} mb="sm">
          My models
        </Title>
        <Async state={list} empty={(d) => (d.items.length ? null : <Empty title="No models yet">Train one from the Train page; finished jobs register their model here.</Empty>)}>
          {(d) => (
            <Table.ScrollContainer minWidth={360}>
              <Table striped data-testid="models">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Latest version</Table.Th>
                    <Table.Th>Created</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {d.items.map((m) => (
                    <Table.Tr key={m.id}>
                      <Table.Td>
                        <Group gap={6} wrap="nowrap">
                          <Anchor component={Link} to={`/models/${enc(m.name)}`}>
                            {m.name}
                          </Anchor>
                          <VisibilityToggle model={m} onChanged={list.reload} />
                        </Group>
                      </Table.Td>
                      <Table.Td>v{m.latest_version}</Table.Td>
                      <Table.Td>{formatTime(m.created_at)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Async>
      </Card>
      <Card withBorder>
        <Title order={4} mb="sm">
          Foundation models
        </Title>
        <Gallery />
      </Card>
    </Stack>
  );
}

export function ModelPage() {
  const { name = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const versions = useApi<List<ModelVersion>>(`/v1/models/${enc(name)}/versions?limit=200`);
  const latest = versions.data?.items.reduce((m, v) => Math.max(m, v.version), 0) ?? 0;
  const version = Number(params.get('version')) || latest;
  const v = versions.data?.items.find((x) => x.version === version);
  return (
    <Stack>
      <Title order={2} style={{ overflowWrap: 'anywhere' }}>
        <Anchor component={Link} to="/models" inherit>
          Models
        </Anchor>{' '}
        / {name}
      </Title>
      <Async state={versions} empty={(d) => (d.items.length ? null : <Empty title="This model has no versions" />)}>
        {(d) => (
          <Stack>
            <Select
              label="Version"
              value={String(version)}
              data={d.items.map((x) => ({ value: String(x.version), label: `v${x.version} · ${formatTime(x.created_at)}` }))}
              onChange={(val) => val && setParams({ version: val })}
              allowDeselect={false}
              w={260}
            />
            {v && (
              <SimpleGrid cols={{ base: 1, md: 2 }}>
                <Card withBorder>
                  <Title order={5} mb="xs">
                    Lineage
                  </Title>
                  <Group gap="xs" wrap="wrap" data-testid="lineage">
                    {v.lineage.dataset ? (
                      <Anchor component={Link} to={`/data/${enc(v.lineage.dataset.name)}?version=${v.lineage.dataset.version}`}>
                        dataset {v.lineage.dataset.name} v{v.lineage.dataset.version}
                      </Anchor>
                    ) : (
                      <Text c="dimmed">uploaded model</Text>
                    )}
                    <Text>→</Text>
                    {v.lineage.job_id ? (
                      <Anchor component={Link} to={`/jobs/${v.lineage.job_id}`}>
                        job #{v.lineage.job_id}
                      </Anchor>
                    ) : (
                      <Text c="dimmed">no job</Text>
                    )}
                    <Text>→</Text>
                    <Text fw={600}>
                      {name} v{v.version}
                    </Text>
                  </Group>
                  <Group gap="xs" mt="sm" wrap="wrap">
                    <Badge variant="light">{v.kind}</Badge>
                    {v.task && <Badge variant="light">{v.task}</Badge>}
                    <Badge variant="light">{formatBytes(v.size_bytes)}</Badge>
                  </Group>
                </Card>
                <Card withBorder>
                  <Title order={5} mb="xs">
                    Metrics (held-out)
                  </Title>
                  {Object.keys(v.metrics ?? {}).length === 0 ? (
                    <Text c="dimmed">No metrics recorded.</Text>
                  ) : (
                    <Table data-testid="model-metrics">
                      <Table.Tbody>
                        {Object.entries(v.metrics).map(([k, val]) => (
                          <Table.Tr key={k}>
                            <Table.Td>{k}</Table.Td>
                            <Table.Td>{formatNumber(val)}</Table.Td>
                          </Table.Tr>
                        ))}
                      </Table.Tbody>
                    </Table>
                  )}
                </Card>
                <Card withBorder>
                  <Title order={5} mb="xs">
                    {isLmManifest(v.metadata) ? "Files and architecture" : "Input"}
                  </Title>
                  {isLmManifest(v.metadata) ? (
                    <LmDetails m={v.metadata} />
                  ) : v.kind === 'torchscript' ? (
                    <TorchScriptDetails v={v} />
                  ) : v.metadata.input?.columns?.length ? (
                    <Group gap={4} wrap="wrap">
                      {v.metadata.input.columns.map((c) => (
                        <Badge key={c} variant="outline">
                          {c}
                        </Badge>
                      ))}
                    </Group>
                  ) : (
                    <Text c="dimmed">{v.metadata.input?.kind ?? 'unknown'} input</Text>
                  )}
                  {Array.isArray(v.metadata.classes) && v.metadata.classes.length > 0 && (
                    <Text size="sm" mt="xs">
                      Classes: {v.metadata.classes.join(', ')}
                    </Text>
                  )}
                </Card>
                <Card withBorder>
                  <Title order={5} mb="xs">
                    Profile
                  </Title>
                  <ModelProfileCard key={`${name}/${v.version}`} model={name} version={v.version} kind={v.kind} />
                </Card>
              </SimpleGrid>
            )}
          </Stack>
        )}
      </Async>
    </Stack>
  );
}
