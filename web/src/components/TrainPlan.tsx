// The planner's advice for a training job (POST /v1/plans, kind "train"): the cheapest safe
// offering with its cost and time. Shared by the classic and the LM training forms.
import { Alert, Badge, Group, Stack, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useState } from 'react';
import { type ApiError, api } from '../api/client';
import { formatDuration, formatUsd } from '../lib/format';

export interface Candidate { instance_type: string; region: string; zone: string; market: string; nodes: number; gpus: number; expected_hours: number; expected_cost_usd: number; cluster_usd_per_hour: number; note?: string }
export interface TrainPlan { id?: number; best: Candidate; best_ondemand: Candidate | null; savings_vs_ondemand: number; reason: string }

export function Recommendation({ plan, error, loading, idle = 'Pick a dataset to see the estimate.' }: { plan?: TrainPlan; error?: ApiError; loading: boolean; idle?: string }) {
  if (error) {
    return (
      <Alert color={error.status === 503 ? 'yellow' : 'red'} title="No planner estimate" data-testid="plan-error">
        {error.message}
      </Alert>
    );
  }
  if (!plan) return <Text c="dimmed">{loading ? 'Asking the planner…' : idle}</Text>;
  const b = plan.best;
  return (
    <Stack gap={4} data-testid="plan">
      <Text size="sm">
        Recommended: <b>{b.instance_type}</b> {b.zone || b.region} ({b.market}
        {b.nodes > 1 ? `, ${b.nodes} nodes` : ''})
      </Text>
      <Group gap="xs">
        <Badge variant="light" data-testid="plan-cost">
          est. {formatUsd(b.expected_cost_usd)}
        </Badge>
        <Badge variant="light">est. {formatDuration(b.expected_hours * 3600)}</Badge>
        {plan.savings_vs_ondemand > 0 && <Badge color="green" variant="light">saves {formatUsd(plan.savings_vs_ondemand)} vs on-demand</Badge>}
      </Group>
      {plan.reason && (
        <Text size="xs" c="dimmed">
          {plan.reason}
        </Text>
      )}
      <Text size="xs" c="dimmed">
        This server runs jobs on its own machine today; the plan shows what the cheapest safe cloud option would cost.
      </Text>
    </Stack>
  );
}

// Asks the planner for `request` (a JSON string, or null for "not enough input yet"), debounced
// 300 ms; a newer request supersedes an older answer. `pending` while a new request waits out the
// debounce. Shared by the training and the serving forms.
export function usePlanAdvice<T = TrainPlan>(request: string | null): { plan?: T; error?: ApiError; loading: boolean; pending: boolean } {
  const [debounced] = useDebouncedValue(request, 300);
  const [plan, setPlan] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!debounced) return;
    let live = true;
    setLoading(true);
    api
      .post<T>('/v1/plans', JSON.parse(debounced))
      .then((p) => live && (setPlan(p), setError(undefined)))
      .catch((e) => live && (setPlan(undefined), setError(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [debounced]);
  return { plan, error, loading, pending: !!request && request !== debounced };
}
