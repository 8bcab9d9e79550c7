import { Badge } from '@mantine/core';
import { stateColor } from '../lib/format';

export function StateBadge({ state }: { state: string }) {
  return (
    <Badge color={stateColor(state)} variant="light" data-testid="state-badge">
      {state}
    </Badge>
  );
}
