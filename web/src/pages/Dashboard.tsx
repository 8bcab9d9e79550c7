import { Anchor, Card, Grid, Group, Stack, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router-dom';
import type { CostReport, Endpoint, Event, Job, List } from '../api/types';
import { CostSection } from '../components/cost';
import { StateBadge } from '../components/StateBadge';
import { Async, Empty } from '../components/states';
import { ACTIVE_JOB_STATES, timeAgo } from '../lib/format';
import { useApi } from '../lib/useApi';

export function DashboardPage() {
  const total = useApi<CostReport>('/v1/cost?group_by=none', 30000);
  const byDay = useApi<CostReport>('/v1/cost?group_by=day', 30000);
  const jobs = useApi<List<Job>>('/v1/jobs?limit=100', 5000);
  const endpoints = useApi<List<Endpoint>>('/v1/endpoints?limit=100', 5000);
  // Checkpoints belong on a job's timeline, not in the activity feed (one per interval would bury
  // everything else): fetch more and keep the 15 newest other events.
  const events = useApi<List<Event>>('/v1/events?limit=200', 5000);
  return (
    <Stack>
      <Title order={2}>Dashboard</Title>
      <Card withBorder>
        <Title order={4} mb="sm">
          Cost this month
        </Title>
        <CostSection total={total} byDay={byDay} />
      </Card>
      <Grid>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Card withBorder h="100%">
            <Title order={4} mb="sm">
              Running jobs
            </Title>
            <Async state={jobs} empty={(d) => (d.items.some((j) => ACTIVE_JOB_STATES.has(j.state)) ? null : <Empty title="No jobs running">Start one from the Train page.</Empty>)}>
              {(d) => (
                <Table.ScrollContainer minWidth={300}>
                  <Table data-testid="running-jobs">
                    <Table.Tbody>
                      {d.items
                        .filter((j) => ACTIVE_JOB_STATES.has(j.state))
                        .map((j) => (
                          <Table.Tr key={j.id}>
                            <Table.Td>
                              <Anchor component={Link} to={`/jobs/${j.id}`}>
                                #{j.id} {j.name}
                              </Anchor>
                            </Table.Td>
                            <Table.Td>
                              <StateBadge state={j.state} />
                            </Table.Td>
                            <Table.Td>{j.progress?.epochs ? `epoch ${j.progress.epoch}/${j.progress.epochs}` : ''}</Table.Td>
                          </Table.Tr>
                        ))}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
              )}
            </Async>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Card withBorder h="100%">
            <Title order={4} mb="sm">
              Endpoints
            </Title>
            <Async state={endpoints} empty={(d) => (d.items.length ? null : <Empty title="No endpoints">Deploy a model from the Inference page.</Empty>)}>
              {(d) => (
                <Table.ScrollContainer minWidth={300}>
                  <Table>
                    <Table.Tbody>
                      {d.items.map((e) => (
                        <Table.Tr key={e.id}>
                          <Table.Td>
                            <Anchor component={Link} to={`/inference/${e.name}`}>
                              {e.name}
                            </Anchor>
                          </Table.Td>
                          <Table.Td>
                            <StateBadge state={e.state} />
                          </Table.Td>
                          <Table.Td>{e.replicas.length} replica(s)</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
              )}
            </Async>
          </Card>
        </Grid.Col>
      </Grid>
      <Card withBorder>
        <Title order={4} mb="sm">
          Recent activity
        </Title>
        <Async state={events} empty={(d) => (d.items.length ? null : <Empty title="Nothing has happened yet">Upload a dataset to get started.</Empty>)}>
          {(d) => <EventList events={d.items.filter((e) => e.action !== 'checkpoint').slice(0, 15)} />}
        </Async>
      </Card>
    </Stack>
  );
}

export function EventList({ events }: { events: Event[] }) {
  return (
    <Stack gap={6} data-testid="events">
      {events.map((e) => (
        <Group key={e.id} gap="xs" wrap="nowrap" align="flex-start">
          <Text size="xs" c="dimmed" w={80} style={{ flexShrink: 0 }}>
            {timeAgo(e.created_at)}
          </Text>
          <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
            <b>{e.action}</b> {e.message}
          </Text>
        </Group>
      ))}
    </Stack>
  );
}
