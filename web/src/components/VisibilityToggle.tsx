// A model's private/public badge and, for its owner or an admin, a button that flips it
// (PATCH /v1/models/{name}); a refusal shows the server's message.
import { Badge, Button, Group, Text } from '@mantine/core';
import { useState } from 'react';
import type { Model } from '../api/types';
import { useAuth } from '../auth';
import { canChangeVisibility, otherVisibility, setModelVisibility, visibilityOf } from '../lib/visibility';

export function VisibilityToggle({ model, onChanged }: { model: Model; onChanged: (m: Model) => void }) {
  const { user } = useAuth();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const current = visibilityOf(model);
  const next = otherVisibility(current);
  const flip = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onChanged(await setModelVisibility(model.name, next));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Group gap={6} wrap="nowrap">
      <Badge
        size="xs"
        variant="light"
        color={current === 'public' ? 'teal' : 'gray'}
        title={current === 'public' ? 'Every user may fine-tune and deploy it' : 'Only its owner (and admins) can see it'}
        data-testid={`model-${current}`}
      >
        {current}
      </Badge>
      {canChangeVisibility(model, user) && (
        <Button size="compact-xs" variant="subtle" loading={busy} onClick={flip} data-testid="toggle-visibility">
          make {next}
        </Button>
      )}
      {error && (
        <Text size="xs" c="red" data-testid="visibility-error">
          {error}
        </Text>
      )}
    </Group>
  );
}
