import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { Navigate, useSearchParams } from 'react-router-dom';
import { ApiError } from '../api/client';
import { useAuth } from '../auth';

export function LoginPage() {
  const { user, signIn } = useAuth();
  const [params] = useSearchParams();
  const [token, setTokenText] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const next = params.get('next') || '/';
  if (user) return <Navigate to={next.startsWith('/') && !next.startsWith('//') ? next : '/'} replace />;

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (!token.trim()) {
      setError('Enter an API token.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await signIn(token.trim());
    } catch (err) {
      const ae = err as ApiError;
      setError(ae.status === 401 ? 'That token is not valid (it may have been revoked).' : ae.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={420}>
        <form onSubmit={submit}>
          <Stack>
            <Title order={3}>Sign in to sskai</Title>
            {params.get('expired') && !error && (
              <Alert color="yellow" data-testid="session-expired">
                Your session ended (the token was rejected). Sign in again.
              </Alert>
            )}
            <Text size="sm" c="dimmed">
              Paste an API token. The first admin token is in <code>&lt;data-dir&gt;/admin.token</code>; create more with{' '}
              <code>POST /v1/tokens</code>. It is kept only for this browser tab.
            </Text>
            <PasswordInput label="API token" placeholder="sk_…" value={token} onChange={(e) => setTokenText(e.currentTarget.value)} error={error} autoFocus name="token" />
            <Button type="submit" loading={busy}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
