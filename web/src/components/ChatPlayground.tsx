// Chat playground for LM endpoints: POST /v1/endpoints/{name}/v1/chat/completions with
// stream:true, read as server-sent events; Stop aborts the request.
import { Alert, Button, Card, Grid, Group, NumberInput, Paper, ScrollArea, SegmentedControl, Stack, Text, Textarea, Title } from '@mantine/core';
import { useRef, useState } from 'react';
import { ApiError, enc, postStream } from '../api/client';
import type { Endpoint } from '../api/types';
import { formatNumber } from '../lib/format';
import { SseParser, chatDelta, chatRequest, completionRequest, type ChatMessage } from '../lib/sse';

export function ChatPlayground({ ep }: { ep: Endpoint }) {
  const [system, setSystem] = useState('');
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState('');
  const [streaming, setStreaming] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [maxTokens, setMaxTokens] = useState<number | string>(64);
  const [temperature, setTemperature] = useState<number | string>(0.7);
  const [stats, setStats] = useState<string>();
  const [mode, setMode] = useState<'chat' | 'complete'>('chat');
  const abortRef = useRef<AbortController | null>(null);

  const send = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy || !draft.trim()) return;
    const history: ChatMessage[] = [...messages, { role: 'user', content: draft.trim() }];
    setMessages(history);
    setDraft('');
    setBusy(true);
    setError(undefined);
    setStats(undefined);
    setStreaming('');
    const controller = new AbortController();
    abortRef.current = controller;
    const parser = new SseParser();
    let text = '';
    let tokens = 0;
    let finish = '';
    const started = performance.now();
    let firstAt = 0;
    try {
      const opts = { maxTokens: Number(maxTokens) || 64, temperature: Number(temperature) || 0 };
      const chat = mode === 'chat';
      const body = chat ? chatRequest([{ role: 'system', content: system }, ...history], opts) : completionRequest(draft.trim(), opts);
      await postStream(`/v1/endpoints/${enc(ep.name)}/v1/${chat ? 'chat/completions' : 'completions'}`, body, (chunk) => {
        for (const data of parser.push(chunk)) {
          const d = chatDelta(data);
          if (d.error) throw new ApiError(502, 'stream_error', d.error);
          if (d.text) {
            if (!firstAt) firstAt = performance.now();
            text += d.text;
            tokens++;
            setStreaming(text);
          }
          if (d.finishReason) finish = d.finishReason;
          if (d.usage?.completion_tokens) tokens = d.usage.completion_tokens;
        }
      }, controller.signal);
      const secs = (performance.now() - started) / 1000;
      setStats(`${tokens} tokens in ${formatNumber(secs, 3)} s` + (firstAt ? ` · first token after ${formatNumber((firstAt - started) / 1000, 3)} s` : '') + (finish ? ` · ${finish}` : ''));
    } catch (err) {
      if ((err as Error).name === 'AbortError') setStats(`stopped after ${tokens} tokens`);
      else setError(err instanceof ApiError ? err : new ApiError(0, 'error', String(err)));
    } finally {
      if (text) setMessages([...history, { role: 'assistant', content: text }]);
      setStreaming('');
      setBusy(false);
      abortRef.current = null;
    }
  };

  return (
    <Card withBorder data-testid="chat">
      <Group justify="space-between" mb="sm">
        <Group gap="sm">
          <Title order={4}>Chat</Title>
          <SegmentedControl size="xs" data={[{ value: 'chat', label: 'Chat' }, { value: 'complete', label: 'Complete text' }]} value={mode} onChange={(v) => setMode(v as 'chat' | 'complete')} disabled={busy} />
        </Group>
        <Button size="xs" variant="default" disabled={busy || messages.length === 0} onClick={() => setMessages([])}>
          Clear
        </Button>
      </Group>
      {ep.state !== 'ready' && (
        <Alert color="yellow" mb="sm">
          The endpoint is {ep.state}; the first message may wait for a replica to start.
        </Alert>
      )}
      <Stack gap="xs">
        <Grid>
          <Grid.Col span={{ base: 12, sm: 8 }}>
            <Textarea label="System prompt" disabled={mode !== 'chat'} placeholder="optional" autosize minRows={1} maxRows={3} value={system} onChange={(e) => setSystem(e.currentTarget.value)} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, sm: 2 }}>
            <NumberInput label="Max tokens" min={1} max={4096} value={maxTokens} onChange={setMaxTokens} />
          </Grid.Col>
          <Grid.Col span={{ base: 6, sm: 2 }}>
            <NumberInput label="Temperature" min={0} max={2} step={0.1} decimalScale={2} value={temperature} onChange={setTemperature} />
          </Grid.Col>
        </Grid>
        <ScrollArea.Autosize mah={360} type="auto">
          <Stack gap={6} data-testid="chat-messages">
            {messages.length === 0 && !streaming && (
              <Text c="dimmed" size="sm">
                Say something to the model; its answer streams in token by token.
              </Text>
            )}
            {messages.map((m, idx) => (
              <ChatBubble key={idx} m={m} />
            ))}
            {busy && <ChatBubble m={{ role: 'assistant', content: streaming || '…' }} testId="chat-streaming" />}
          </Stack>
        </ScrollArea.Autosize>
        {stats && (
          <Text size="xs" c="dimmed" data-testid="chat-stats">
            {stats}
          </Text>
        )}
        {error && <Alert color="red" data-testid="chat-error">{error.message}</Alert>}
        <form onSubmit={send}>
          <Group align="flex-end" wrap="nowrap">
            <Textarea
              style={{ flex: 1 }}
              label={mode === 'chat' ? 'Message' : 'Text to continue'}
              autosize
              minRows={1}
              maxRows={4}
              value={draft}
              onChange={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault();
                  e.currentTarget.form?.requestSubmit();
                }
              }}
            />
            {busy ? (
              <Button color="red" variant="light" onClick={() => abortRef.current?.abort()} data-testid="chat-stop">
                Stop
              </Button>
            ) : (
              <Button type="submit" disabled={!draft.trim()} data-testid="chat-send">
                Send
              </Button>
            )}
          </Group>
        </form>
      </Stack>
    </Card>
  );
}

function ChatBubble({ m, testId }: { m: ChatMessage; testId?: string }) {
  const mine = m.role === 'user';
  return (
    <Paper
      p="xs"
      radius="md"
      bg={mine ? 'blue.0' : 'gray.0'}
      style={{ alignSelf: mine ? 'flex-end' : 'flex-start', maxWidth: '85%' }}
      data-testid={testId ?? (mine ? 'chat-user' : 'chat-assistant')}
    >
      <Text size="sm" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
        {m.content}
      </Text>
    </Paper>
  );
}
