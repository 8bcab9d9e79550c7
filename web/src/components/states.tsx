// Loading, error and empty states shared by every page, and a confirm-before-destroy button.
import { Alert, Button, Center, Group, Loader, Modal, Stack, Text, ThemeIcon } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import type { ApiError } from '../api/client';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <Center py="xl" data-testid="loading">
      <Group gap="sm">
        <Loader size="sm" />
        <Text c="dimmed">{label}</Text>
      </Group>
    </Center>
  );
}

export function ErrorState({ error, onRetry, title = 'Something went wrong' }: { error: ApiError | Error; onRetry?: () => void; title?: string }) {
  return (
    <Alert color="red" title={title} data-testid="error-state">
      <Stack gap="xs">
        <Text size="sm">{error.message}</Text>
        {onRetry && (
          <Group>
            <Button size="xs" variant="light" color="red" onClick={onRetry}>
              Try again
            </Button>
          </Group>
        )}
      </Stack>
    </Alert>
  );
}

export function Empty({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <Center py="xl" data-testid="empty-state">
      <Stack align="center" gap="xs" maw={460}>
        <ThemeIcon variant="light" size="xl" radius="xl">
          ∅
        </ThemeIcon>
        <Text fw={600}>{title}</Text>
        {children && (
          <Text c="dimmed" size="sm" ta="center">
            {children}
          </Text>
        )}
        {action}
      </Stack>
    </Center>
  );
}

// Shows loading / error / children(data).
export function Async<T>({ state, children, empty }: {
  state: { data: T | undefined; error?: ApiError; loading: boolean; reload: () => void };
  children: (data: T) => ReactNode;
  empty?: (data: T) => ReactNode | null;
}) {
  if (state.data === undefined) {
    if (state.error) return <ErrorState error={state.error} onRetry={state.reload} />;
    return <Loading />;
  }
  const e = empty?.(state.data);
  return (
    <>
      {state.error && <ErrorState title="Could not refresh" error={state.error} onRetry={state.reload} />}
      {e ?? children(state.data)}
    </>
  );
}

// A button that asks before a destructive action and cannot fire twice while it runs.
export function ConfirmButton({ label, title, message, onConfirm, color = 'red', size = 'xs' }: {
  label: string; title: string; message: ReactNode; onConfirm: () => Promise<unknown>; color?: string; size?: string;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  return (
    <>
      <Button size={size} color={color} variant="light" onClick={() => setOpen(true)}>
        {label}
      </Button>
      <Modal opened={open} onClose={() => !busy && setOpen(false)} title={title} centered>
        <Stack>
          <Text size="sm">{message}</Text>
          {error && <ErrorState error={error} />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpen(false)} disabled={busy}>
              Cancel
            </Button>
            <Button
              color={color}
              loading={busy}
              onClick={async () => {
                setBusy(true);
                setError(undefined);
                try {
                  await onConfirm();
                  setOpen(false);
                } catch (e) {
                  setError(e as Error);
                } finally {
                  setBusy(false);
                }
              }}
            >
              {label}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
