// Foundation-model gallery on the Models page (GET /v1/gallery): size, memory needs, licence,
// "already pulled" state and a Pull button (POST /v1/models/{name}/pull, polled at /v1/pulls/{id}).
import { Alert, Anchor, Badge, Button, Card, Code, Group, Progress, SimpleGrid, Stack, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError, api, enc } from '../api/client';
import { formatBytes } from '../lib/format';
import { pullFraction, pullModelName, sortGallery, type GalleryItem, type PullStatus } from '../lib/gallery';
import { formatCount } from '../lib/profile';
import { useApi } from '../lib/useApi';
import { Empty, ErrorState, Loading } from './states';

function PullButton({ item, onDone }: { item: GalleryItem; onDone: () => void }) {
  const [pull, setPull] = useState<PullStatus>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!pull || pull.state !== 'running') return;
    const timer = setTimeout(async () => {
      try {
        const p = await api.get<PullStatus>(`/v1/pulls/${enc(pull.id)}`);
        setPull(p);
        if (p.state === 'succeeded') onDone();
      } catch (e) {
        setError(e as ApiError);
        setPull(undefined);
      }
    }, 1000);
    return () => clearTimeout(timer);
  }, [pull, onDone]);
  const start = async () => {
    if (busy || !item.pull) return;
    setBusy(true);
    setError(undefined);
    try {
      setPull(await api.post<PullStatus>(`/v1/models/${enc(pullModelName(item))}/pull`, { repo: item.pull.repo, revision: item.pull.revision }));
    } catch (e) {
      const err = e as ApiError;
      setError(err.status === 404 && /no route/i.test(err.message) ? new ApiError(404, 'unavailable', `Pulling from the hub is not available on this server yet; use: ${item.pull_command ?? 'sskai models pull'}`) : err);
    } finally {
      setBusy(false);
    }
  };
  const running = pull?.state === 'running';
  const fraction = pull ? pullFraction(pull) : null;
  return (
    <Stack gap={4}>
      {item.pull ? (
        <Group>
          <Button size="xs" onClick={start} loading={busy} disabled={running} data-testid="pull">
            {running ? 'Pulling…' : 'Pull'}
          </Button>
          {running && (
            <Text size="xs" c="dimmed">
              {formatBytes(pull.bytes_done)}
              {pull.bytes_total ? ` of ${formatBytes(pull.bytes_total)}` : ''}
            </Text>
          )}
        </Group>
      ) : (
        <Text size="xs" c="dimmed">
          Create it with the CLI:
        </Text>
      )}
      {running && <Progress value={(fraction ?? 0) * 100} animated striped={fraction === null} size="sm" />}
      {!item.pull && item.pull_command && (
        <Code block style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {item.pull_command}
        </Code>
      )}
      {pull?.state === 'failed' && (
        <Alert color="red" p="xs" data-testid="pull-error">
          <Text size="xs" style={{ overflowWrap: 'anywhere' }}>
            {pull.error ?? 'The pull failed.'}
          </Text>
        </Alert>
      )}
      {error && (
        <Alert color="red" p="xs" data-testid="pull-error">
          <Text size="xs" style={{ overflowWrap: 'anywhere' }}>
            {error.message}
          </Text>
        </Alert>
      )}
    </Stack>
  );
}

function GalleryCard({ item, onChange }: { item: GalleryItem; onChange: () => void }) {
  const m = item.memory ?? {};
  return (
    <Card withBorder padding="sm" data-testid="gallery-item">
      <Stack gap={6}>
        <Group justify="space-between" wrap="nowrap" align="flex-start">
          <Text fw={600} style={{ overflowWrap: 'anywhere' }}>
            {item.name}
          </Text>
          {item.pulled ? (
            <Badge color="green" variant="light" data-testid="pulled">
              pulled
            </Badge>
          ) : item.gated ? (
            <Badge color="yellow" variant="light">
              gated
            </Badge>
          ) : null}
        </Group>
        <Group gap={4} wrap="wrap">
          <Badge variant="outline">{formatCount(item.parameters)} params</Badge>
          {item.model_type && <Badge variant="outline">{item.model_type}</Badge>}
          {item.context ? <Badge variant="outline">{formatCount(item.context)} context</Badge> : null}
        </Group>
        {item.description && (
          <Text size="xs" c="dimmed">
            {item.description}
          </Text>
        )}
        <Text size="xs">
          Weights {formatBytes(m.weights_bytes)} · chat {formatBytes(m.inference_bytes)} · LoRA fine-tune {formatBytes(m.lora_bytes)} · full fine-tune{' '}
          {formatBytes(m.full_finetune_bytes)}
        </Text>
        {m.assumes && (
          <Text size="xs" c="dimmed">
            Memory assumes {m.assumes}.
          </Text>
        )}
        {item.license && (
          <Text size="xs" c="dimmed">
            Licence: {item.license}
          </Text>
        )}
        {item.pulled && item.model ? (
          <Anchor component={Link} to={`/models/${enc(item.model)}`} size="sm">
            Open {item.model} →
          </Anchor>
        ) : (
          <PullButton item={item} onDone={onChange} />
        )}
      </Stack>
    </Card>
  );
}

export function Gallery() {
  const g = useApi<{ items: GalleryItem[] }>('/v1/gallery');
  if (g.error?.status === 404 && /no route/i.test(g.error.message)) {
    return (
      <Empty title="No foundation models on this server yet">
        This server has no model gallery (<code>GET /v1/gallery</code>); you can still train the built-in tabular and image models and upload
        TorchScript models.
      </Empty>
    );
  }
  if (g.error && !g.data) return <ErrorState error={g.error} onRetry={g.reload} />;
  if (!g.data) return <Loading />;
  if (!g.data.items.length) return <Empty title="The gallery is empty" />;
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} data-testid="gallery">
      {sortGallery(g.data.items).map((item) => (
        <GalleryCard key={item.name} item={item} onChange={g.reload} />
      ))}
    </SimpleGrid>
  );
}
