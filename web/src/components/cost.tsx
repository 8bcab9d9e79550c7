// Cost widgets over GET /v1/cost (the cost ledger). A 404 means this server has no ledger yet.
import { BarChart } from '@mantine/charts';
import { Card, Group, SimpleGrid, Text } from '@mantine/core';
import type { ApiError } from '../api/client';
import type { CostReport } from '../api/types';
import { costByDayRows, savingsPercent } from '../lib/charts';
import { formatDuration, formatUsd } from '../lib/format';
import { Empty, ErrorState, Loading } from './states';

export function costUnavailable(error: ApiError | undefined): boolean {
  return !!error && error.status === 404;
}

export function CostUnavailable() {
  return (
    <Empty title="Cost data is not available on this server yet">
      This server does not have the cost ledger (<code>GET /v1/cost</code> answered 404). Usage is still recorded; costs appear here once
      the ledger is enabled.
    </Empty>
  );
}

export function Stat({ label, value, hint, testId }: { label: string; value: string; hint?: string; testId?: string }) {
  return (
    <Card withBorder padding="sm">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="xl" fw={700} data-testid={testId}>
        {value}
      </Text>
      {hint && (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      )}
    </Card>
  );
}

export function CostStats({ report }: { report: CostReport }) {
  const pct = savingsPercent(report.total_usd, report.ondemand_usd);
  return (
    <SimpleGrid cols={{ base: 1, xs: 3 }}>
      <Stat label="Cost this period" value={formatUsd(report.total_usd)} testId="cost-total" />
      <Stat label="On-demand equivalent" value={formatUsd(report.ondemand_usd)} />
      <Stat
        label="Savings"
        value={formatUsd(report.savings_usd)}
        hint={pct === null ? (report.unpriced_seconds > 0 ? `${formatDuration(report.unpriced_seconds)} unpriced` : undefined) : `${pct}% vs on-demand`}
      />
    </SimpleGrid>
  );
}

export function CostByDayChart({ report }: { report: CostReport }) {
  const rows = costByDayRows(report.groups);
  if (rows.length === 0) return <Empty title="No spend recorded in this period" />;
  return (
    <BarChart
      h={220}
      data={rows}
      dataKey="day"
      series={[
        { name: 'cost', label: 'Cost (USD)', color: 'blue.6' },
        { name: 'ondemand', label: 'On-demand (USD)', color: 'gray.4' },
      ]}
      valueFormatter={(v) => formatUsd(v)}
      withLegend
      data-testid="cost-by-day"
    />
  );
}

export function CostSection({ total, byDay }: {
  total: { data?: CostReport; error?: ApiError; loading: boolean; reload: () => void };
  byDay: { data?: CostReport; error?: ApiError; loading: boolean; reload: () => void };
}) {
  if (costUnavailable(total.error)) return <CostUnavailable />;
  if (total.error && !total.data) return <ErrorState error={total.error} onRetry={total.reload} />;
  if (!total.data) return <Loading />;
  return (
    <>
      <CostStats report={total.data} />
      <Group mt="md" />
      {byDay.data ? <CostByDayChart report={byDay.data} /> : byDay.error ? <ErrorState error={byDay.error} onRetry={byDay.reload} /> : <Loading />}
    </>
  );
}
