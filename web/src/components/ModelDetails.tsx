// Kind-specific model version details: an LM's files and architecture, a TorchScript model's
// input spec and observed outputs.
import { Badge, Group, Stack, Table, Text } from '@mantine/core';
import type { ModelVersion } from '../api/types';
import { formatBytes } from '../lib/format';
import { lmConfigRows, lmFileRows, type LmManifest } from '../lib/gallery';
import { formatCount } from '../lib/profile';

export function LmDetails({ m }: { m: LmManifest }) {
  const source = m.source as { kind?: string; repo?: string; revision?: string; commit?: string } | undefined;
  return (
    <Stack gap="xs" data-testid="lm-details">
      <Group gap={4} wrap="wrap">
        {m.parameters !== undefined && <Badge variant="light">{formatCount(m.parameters)} parameters</Badge>}
        {m.tokenizer && <Badge variant="light">{m.tokenizer}</Badge>}
        {m.chat_template && m.chat_template !== 'none' && <Badge variant="light">chat template {m.chat_template}</Badge>}
        {m.adapter ? <Badge variant="light" color="grape">LoRA adapter</Badge> : null}
        {source?.repo && <Badge variant="outline">{source.repo}{source.revision ? `@${source.revision}` : ''}</Badge>}
      </Group>
      {lmConfigRows(m.config).length > 0 && (
        <Table fz="xs">
          <Table.Tbody>
            {lmConfigRows(m.config).map((r) => (
              <Table.Tr key={r.label}>
                <Table.Td>{r.label}</Table.Td>
                <Table.Td>{r.value}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Table.ScrollContainer minWidth={300}>
        <Table fz="xs" data-testid="lm-files">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>File</Table.Th>
              <Table.Th>Size</Table.Th>
              <Table.Th>sha256</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {lmFileRows(m).map((f) => (
              <Table.Tr key={f.name}>
                <Table.Td style={{ overflowWrap: 'anywhere' }}>{f.name}</Table.Td>
                <Table.Td>{formatBytes(f.size)}</Table.Td>
                <Table.Td>
                  <Text span ff="monospace" size="xs">
                    {f.sha}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}

interface TensorSpec { name?: string; shape?: number[]; dtype?: string }

export function TorchScriptDetails({ v }: { v: ModelVersion }) {
  const spec = (v.metadata.spec ?? {}) as { inputs?: TensorSpec[]; outputs?: TensorSpec[]; task?: string };
  const observed = (v.metadata.observed_outputs ?? []) as TensorSpec[];
  const row = (t: TensorSpec, idx: number, kind: string) => (
    <Table.Tr key={kind + idx}>
      <Table.Td>{kind}</Table.Td>
      <Table.Td>{t.name ?? `${kind}-${idx}`}</Table.Td>
      <Table.Td>[{(t.shape ?? []).join(', ')}]</Table.Td>
      <Table.Td>{t.dtype ?? 'float32'}</Table.Td>
    </Table.Tr>
  );
  return (
    <Stack gap="xs" data-testid="torchscript-details">
      {typeof v.metadata.parameters === 'number' && <Text size="sm">{formatCount(v.metadata.parameters as number)} parameters</Text>}
      <Table fz="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th />
            <Table.Th>Name</Table.Th>
            <Table.Th>Shape</Table.Th>
            <Table.Th>dtype</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(spec.inputs ?? []).map((t, idx) => row(t, idx, 'input'))}
          {(observed.length ? observed : spec.outputs ?? []).map((t, idx) => row(t, idx, 'output'))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
