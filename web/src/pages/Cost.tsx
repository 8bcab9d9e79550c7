import { Anchor, Button, Card, Group, SegmentedControl, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { getToken } from '../api/client';
import type { CostReport } from '../api/types';
import { jobIdFromCostKey } from '../lib/charts';
import { CostByDayChart, CostStats, CostUnavailable, costUnavailable } from '../components/cost';
import { Empty, ErrorState, Loading } from '../components/states';
import { formatDuration, formatUsd } from '../lib/format';
import { useApi } from '../lib/useApi';

function monthStart(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-01`;
}

export function CostPage() {
  const [groupBy, setGroupBy] = useState('day');
  const [from, setFrom] = useState(monthStart());
  const [to, setTo] = useState('');
  const q = new URLSearchParams({ group_by: groupBy });
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  const report = useApi<CostReport>(`/v1/cost?${q}`, 30000);
  const [downloading, setDownloading] = useState(false);
  const [dlError, setDlError] = useState<Error>();

  // The CSV needs the bearer token, so it is fetched and handed to the browser as a file.
  const exportCsv = async () => {
    if (downloading) return;
    setDownloading(true);
    setDlError(undefined);
    try {
      const res = await fetch(`/v1/cost?${q}&format=csv`, { headers: { Authorization: 'Bearer ' + (getToken() ?? '') } });
      if (!res.ok) throw new Error(`Export failed: HTTP ${res.status}`);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `sskai-cost-${groupBy}.csv`;
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setDlError(e as Error);
    } finally {
      setDownloading(false);
    }
  };

  return (
    <Stack>
      <Title order={2}>Cost</Title>
      <Card withBorder>
        <Group align="flex-end" wrap="wrap">
          <SegmentedControl value={groupBy} onChange={setGroupBy} data={[{ value: 'day', label: 'By day' }, { value: 'job', label: 'By job' }, { value: 'endpoint', label: 'By endpoint' }]} />
          <TextInput label="From" placeholder="YYYY-MM-DD" value={from} onChange={(e) => setFrom(e.currentTarget.value)} w={130} />
          <TextInput label="To" placeholder="now" value={to} onChange={(e) => setTo(e.currentTarget.value)} w={130} />
          <Button variant="default" onClick={exportCsv} loading={downloading} disabled={!!report.error}>
            Export CSV
          </Button>
        </Group>
        {dlError && <Text c="red" size="sm" mt="xs">{dlError.message}</Text>}
      </Card>
      {costUnavailable(report.error) ? (
        <CostUnavailable />
      ) : report.error && !report.data ? (
        <ErrorState error={report.error} onRetry={report.reload} />
      ) : !report.data ? (
        <Loading />
      ) : (
        <>
          <CostStats report={report.data} />
          {groupBy === 'day' && (
            <Card withBorder>
              <CostByDayChart report={report.data} />
            </Card>
          )}
          <Card withBorder>
            {report.data.groups.length === 0 ? (
              <Empty title="No usage in this period" />
            ) : (
              <Table.ScrollContainer minWidth={520}>
                <Table striped data-testid="cost-groups">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>{groupBy}</Table.Th>
                      <Table.Th>Cost</Table.Th>
                      <Table.Th>On-demand</Table.Th>
                      <Table.Th>Savings</Table.Th>
                      <Table.Th>Compute</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {report.data.groups.map((g) => (
                      <Table.Tr key={g.key}>
                        <Table.Td>
                          {groupBy === 'job' && jobIdFromCostKey(g.key) !== null ? <Anchor component={Link} to={`/jobs/${jobIdFromCostKey(g.key)}`}>job #{jobIdFromCostKey(g.key)}</Anchor> : groupBy === 'endpoint' ? <Anchor component={Link} to={`/inference/${encodeURIComponent(g.key)}`}>{g.key}</Anchor> : g.key}
                        </Table.Td>
                        <Table.Td>{formatUsd(g.cost_usd)}</Table.Td>
                        <Table.Td>{formatUsd(g.ondemand_usd)}</Table.Td>
                        <Table.Td>{formatUsd(g.savings_usd)}</Table.Td>
                        <Table.Td>{formatDuration(g.compute_seconds)}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )}
          </Card>
        </>
      )}
    </Stack>
  );
}
