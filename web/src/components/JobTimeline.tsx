// A job's timeline (GET /v1/jobs/{id}/events): states, checkpoints, preemptions and recoveries,
// oldest first, with counts of the interesting kinds.
import { Badge, Group, Stack, Text } from '@mantine/core';
import type { Event } from '../api/types';
import { formatTime, timeAgo } from '../lib/format';
import { TIMELINE_COLORS, jobTimeline } from '../lib/timeline';

export function JobTimeline({ events, jobId }: { events: Event[]; jobId: number }) {
  const { entries, counts } = jobTimeline(events, jobId);
  if (!entries.length) return <Text c="dimmed" size="sm">No events yet.</Text>;
  return (
    <Stack gap="xs">
      <Group gap={6} data-testid="timeline-counts">
        <Badge variant="outline" color={TIMELINE_COLORS.checkpoint}>{counts.checkpoint} checkpoints</Badge>
        <Badge variant="outline" color={TIMELINE_COLORS.preemption}>{counts.preemption} preemptions</Badge>
        <Badge variant="outline" color={TIMELINE_COLORS.recovery}>{counts.recovery} recoveries</Badge>
      </Group>
      <Stack gap={6} data-testid="timeline" style={{ borderLeft: '2px solid var(--mantine-color-gray-3)', paddingLeft: 10 }}>
        {entries.map((e) => (
          <Group key={e.id} gap="xs" wrap="nowrap" align="flex-start" data-kind={e.kind}>
            <div style={{ flexShrink: 0 }}>
              <Badge color={TIMELINE_COLORS[e.kind]} variant={e.kind === 'state' ? 'light' : 'filled'} data-testid="state-badge">
                {e.action}
              </Badge>
            </div>
            <Text size="sm" style={{ overflowWrap: 'anywhere' }} title={formatTime(e.at)}>
              {e.message}{' '}
              <Text span size="xs" c="dimmed">
                {timeAgo(e.at)}
              </Text>
            </Text>
          </Group>
        ))}
      </Stack>
    </Stack>
  );
}
