// A model version's profile (GET/POST /v1/models/{m}/versions/{v}/profile): parameters, FLOPs,
// memory and measured speed on this machine. "Profile" measures (or re-measures) it.
import { Alert, Button, Group, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { ApiError, api, enc } from '../api/client';
import { formatNumber, timeAgo } from '../lib/format';
import { profileMeasurements, profileSummary, type ModelProfile } from '../lib/profile';
import { useApi } from '../lib/useApi';
import { ErrorState, Loading } from './states';

export function ModelProfileCard({ model, version, kind }: { model: string; version: number; kind: string }) {
  const path = `/v1/models/${enc(model)}/versions/${version}/profile`;
  const stored = useApi<ModelProfile>(path);
  const [busy, setBusy] = useState(false);
  const [fresh, setFresh] = useState<ModelProfile>();
  const [error, setError] = useState<ApiError>();
  const profile = fresh ?? stored.data;
  const missing = stored.error?.status === 404;
  const run = async () => {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      setFresh(await api.post<ModelProfile>(path, {}));
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="xs" data-testid="model-profile">
      <Group justify="space-between" wrap="wrap">
        <Text size="xs" c="dimmed">
          {profile?.profiled_at ? `Measured ${timeAgo(profile.profiled_at)} on this machine` : 'Parameters, FLOPs, memory and speed on this machine'}
        </Text>
        <Button size="xs" variant="light" loading={busy} onClick={run} data-testid="profile-button">
          {profile ? 'Profile again' : 'Profile'}
        </Button>
      </Group>
      {busy && <Text size="xs" c="dimmed">Running the model on random inputs; this takes a few seconds…</Text>}
      {error && (
        <Alert color="red" title="Profiling failed" data-testid="profile-error">
          {error.message}
        </Alert>
      )}
      {!profile && stored.loading && <Loading />}
      {!profile && stored.error && !missing && <ErrorState error={stored.error} onRetry={stored.reload} />}
      {!profile && missing && !busy && (
        <Text c="dimmed" size="sm">
          {kind === 'lm' || kind === 'torchscript' ? 'This kind of model may not be profiled yet; try it.' : 'Not profiled yet. Profile it to get measured planner advice.'}
        </Text>
      )}
      {profile && (
        <>
          <Table fz="sm" data-testid="profile-summary">
            <Table.Tbody>
              {profileSummary(profile).map((r) => (
                <Table.Tr key={r.label}>
                  <Table.Td>{r.label}</Table.Td>
                  <Table.Td>{r.value}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {profileMeasurements(profile).length > 0 && (
            <Table.ScrollContainer minWidth={320}>
              <Table fz="xs" data-testid="profile-measurements">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Phase</Table.Th>
                    <Table.Th>Batch</Table.Th>
                    <Table.Th>Median</Table.Th>
                    <Table.Th>Samples/s</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {profileMeasurements(profile).map((m) => (
                    <Table.Tr key={m.phase + m.batch}>
                      <Table.Td>{m.phase === 'train_step' ? 'training step' : m.phase}</Table.Td>
                      <Table.Td>{m.batch}</Table.Td>
                      <Table.Td>{formatNumber(m.median_ms, 3)} ms</Table.Td>
                      <Table.Td>{formatNumber(Math.round(m.samples_per_second))}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </>
      )}
    </Stack>
  );
}
