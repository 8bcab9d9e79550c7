// Upload your own TorchScript model with its input spec (Models page). The body is the .pt file
// (XHR, with progress); the spec travels in the query string; the server validates by running it.
import { Alert, Button, Card, FileInput, Group, Progress, Stack, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useState } from 'react';
import { ApiError, uploadFile } from '../api/client';
import type { ModelVersion } from '../api/types';
import { SPEC_TEMPLATE, checkSpec, checkTorchScriptFile, modelNameFromFile, uploadPath } from '../lib/torchscript';

export function UploadModel({ onUploaded }: { onUploaded: (v: ModelVersion) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [spec, setSpec] = useState(SPEC_TEMPLATE);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<ApiError>();
  const specCheck = checkSpec(spec);
  const busy = progress !== null;
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(undefined);
    if (!file) return setError(new ApiError(400, 'invalid_argument', 'Choose the .pt file (saved with torch.jit.save).'));
    const fileProblem = checkTorchScriptFile(file.name);
    if (fileProblem) return setError(new ApiError(400, 'invalid_argument', fileProblem));
    if (!name.trim()) return setError(new ApiError(400, 'invalid_argument', 'Name the model.'));
    if (!specCheck.spec) return setError(new ApiError(400, 'invalid_argument', specCheck.error ?? 'bad spec'));
    setProgress(0);
    try {
      const v = await uploadFile<ModelVersion>(uploadPath(name.trim(), file.name, specCheck.spec), file, setProgress).promise;
      onUploaded(v);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setProgress(null);
    }
  };
  return (
    <Card withBorder>
      <form onSubmit={submit}>
        <Stack gap="xs">
          <Title order={4}>Upload a TorchScript model</Title>
          <Text size="xs" c="dimmed">
            Export with <code>torch.jit.script(model).save(&quot;net.pt&quot;)</code> (or <code>torch.jit.trace</code>). The spec says what{' '}
            <code>forward</code> takes; the server runs the model on random inputs of that spec before it registers it.
          </Text>
          <Group grow align="flex-start" wrap="wrap">
            <FileInput
              label="TorchScript file"
              placeholder="net.pt"
              value={file}
              onChange={(f) => {
                setFile(f);
                if (f && !name) setName(modelNameFromFile(f.name));
              }}
              data-testid="upload-model-file"
              style={{ minWidth: 200 }}
            />
            <TextInput label="Model name" value={name} onChange={(e) => setName(e.currentTarget.value)} data-testid="upload-model-name" style={{ minWidth: 200 }} />
          </Group>
          <Textarea
            label="Input spec (JSON)"
            autosize
            minRows={4}
            maxRows={12}
            value={spec}
            onChange={(e) => setSpec(e.currentTarget.value)}
            error={specCheck.error}
            styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
            data-testid="upload-model-spec"
          />
          {progress !== null && <Progress value={progress * 100} animated />}
          {error && (
            <Alert color="red" title="Upload refused" data-testid="upload-model-error">
              <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                {error.message}
              </Text>
            </Alert>
          )}
          <Group>
            <Button type="submit" loading={busy} data-testid="upload-model">
              Upload and validate
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
