// Fine-tune a language model (Train page): base model from the gallery or my models, a JSONL
// dataset, LoRA rank/alpha/dropout/targets, steps and learning rate → POST /v1/jobs {kind:"lm"}.
import { Alert, Autocomplete, Button, Card, Checkbox, Grid, Group, NumberInput, SegmentedControl, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMemo, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { ApiError, api, enc } from '../api/client';
import type { Dataset, DatasetVersion, Job, List, Model, ModelVersion } from '../api/types';
import type { GalleryItem } from '../lib/gallery';
import { LORA_MODULES, checkLmForm, defaultLmForm, lmJobRequest, lmPlanRequest, type LmForm } from '../lib/lmjob';
import { placementFields } from '../lib/cluster';
import { useApi } from '../lib/useApi';
import { ErrorState } from './states';
import { RunOnSelect } from './RunOn';
import { Recommendation, usePlanAdvice } from './TrainPlan';

export function LmTrainForm() {
  const navigate = useNavigate();
  const gallery = useApi<{ items: GalleryItem[] }>('/v1/gallery');
  const models = useApi<List<Model>>('/v1/models?limit=200');
  const datasets = useApi<List<Dataset>>('/v1/datasets?limit=200');
  const [form, setForm] = useState<LmForm>(defaultLmForm());
  const [busy, setBusy] = useState(false);
  const [runOn, setRunOn] = useState('');
  const [error, setError] = useState<ApiError>();
  const version = useApi<DatasetVersion>(form.dataset ? `/v1/datasets/${enc(form.dataset)}/versions/latest` : null);
  const set = (patch: Partial<LmForm>) => setForm({ ...form, ...patch });
  const num = (v: number | string) => (typeof v === 'number' ? v : Number(v));
  const pulled = (gallery.data?.items ?? []).filter((g) => g.pulled && g.model).map((g) => g.model as string);
  const baseOptions = [...new Set([...pulled, ...(models.data?.items ?? []).map((m) => m.name)])];
  const notJsonl = version.data && version.data.format !== 'jsonl';
  // Planner advice from the base model's config (a registered model; not a server path).
  const registeredBase = form.baseModel && !form.baseModel.startsWith('/') && baseOptions.includes(form.baseModel);
  const base = useApi<ModelVersion>(registeredBase ? `/v1/models/${enc(form.baseModel)}/versions/${form.baseVersion ?? 'latest'}` : null);
  const planInput = useMemo(() => {
    const request = lmPlanRequest(form, base.data?.metadata?.config);
    return request ? JSON.stringify(request) : null;
  }, [form, base.data]);
  const advice = usePlanAdvice(planInput);
  const [usePlan, setUsePlan] = useState(true);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const problem = checkLmForm(form);
    if (problem) return setError(new ApiError(400, 'invalid_argument', problem));
    setBusy(true);
    setError(undefined);
    try {
      const job = await api.post<Job>('/v1/jobs', { ...lmJobRequest(form, usePlan ? advice.plan?.id : undefined), ...placementFields(runOn) });
      navigate(`/jobs/${job.id}`);
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  };
  return (
    <Card withBorder>
      <form onSubmit={submit}>
        <Stack>
          <Title order={4}>Fine-tune a language model</Title>
          {(datasets.error || models.error) && <ErrorState error={(datasets.error ?? models.error)!} onRetry={() => (datasets.reload(), models.reload())} />}
          <Grid>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <Autocomplete
                label="Base model"
                placeholder={pulled.length ? 'a pulled foundation model' : 'pull one from the gallery first'}
                data={baseOptions}
                value={form.baseModel}
                onChange={(v) => set({ baseModel: v, output: form.output || '' })}
                data-testid="lm-base"
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <Select
                label="Dataset (JSONL)"
                placeholder="text, prompt/completion or chat messages"
                data={(datasets.data?.items ?? []).map((d) => d.name)}
                value={form.dataset || null}
                onChange={(v) => set({ dataset: v ?? '' })}
                searchable
                error={notJsonl ? `'${form.dataset}' is ${version.data?.format}; LM jobs train on JSONL` : undefined}
                data-testid="lm-dataset"
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <TextInput label="Output model" placeholder={form.baseModel ? `${form.baseModel}-finetuned` : 'default: <base>-finetuned'} value={form.output} onChange={(e) => set({ output: e.currentTarget.value })} data-testid="lm-output" />
            </Grid.Col>
          </Grid>
          <Group gap="sm" align="center">
            <Text size="sm" fw={500}>
              Method
            </Text>
            <SegmentedControl size="xs" data={[{ value: 'lora', label: 'LoRA' }, { value: 'full', label: 'Full fine-tune' }]} value={form.method} onChange={(v) => set({ method: v as 'lora' | 'full' })} />
          </Group>
          {form.method === 'lora' && (
            <Grid>
              <Grid.Col span={{ base: 4, sm: 2 }}>
                <NumberInput label="Rank" min={1} max={1024} value={form.rank} onChange={(v) => set({ rank: num(v), alpha: form.alpha === 2 * form.rank ? 2 * num(v) : form.alpha })} data-testid="lora-rank" />
              </Grid.Col>
              <Grid.Col span={{ base: 4, sm: 2 }}>
                <NumberInput label="Alpha" min={0} value={form.alpha} onChange={(v) => set({ alpha: num(v) })} />
              </Grid.Col>
              <Grid.Col span={{ base: 4, sm: 2 }}>
                <NumberInput label="Dropout" min={0} max={0.9} step={0.05} decimalScale={3} value={form.dropout} onChange={(v) => set({ dropout: num(v) })} />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <Checkbox.Group label="Target modules" value={form.targets} onChange={(v) => set({ targets: v })}>
                  <Group gap="xs" mt={6}>
                    {LORA_MODULES.map((m) => (
                      <Checkbox key={m} value={m} label={m} size="xs" />
                    ))}
                  </Group>
                </Checkbox.Group>
              </Grid.Col>
            </Grid>
          )}
          <Grid>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <NumberInput label="Steps" min={1} value={form.steps} onChange={(v) => set({ steps: num(v) })} data-testid="lm-steps" />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <NumberInput label="Learning rate" min={0} step={0.0001} decimalScale={6} value={form.learningRate} onChange={(v) => set({ learningRate: num(v) })} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <NumberInput label="Batch size" min={1} value={form.batchSize} onChange={(v) => set({ batchSize: num(v) })} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <NumberInput label="Max sequence length" min={2} value={form.maxSeqLen} onChange={(v) => set({ maxSeqLen: num(v) })} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 3 }}>
              <Select
                label="Chat template"
                data={[{ value: 'auto', label: 'the model’s own' }, { value: 'chatml', label: 'ChatML' }, { value: 'llama3', label: 'Llama 3' }, { value: 'none', label: 'none (plain text)' }]}
                value={form.chatTemplate}
                onChange={(v) => set({ chatTemplate: (v as LmForm['chatTemplate']) ?? 'auto' })}
                allowDeselect={false}
                data-testid="lm-chat-template"
              />
            </Grid.Col>
          </Grid>
          <RunOnSelect kind="jobs" value={runOn} onChange={setRunOn} />
          <Card withBorder bg="gray.0" data-testid="lm-plan-card">
            <Text fw={600} size="sm" mb={4}>
              Planner estimate
            </Text>
            <Recommendation plan={advice.plan} error={advice.error} loading={advice.loading} idle="Pick a registered base model to see the estimate." />
            {advice.plan?.id !== undefined && (
              <Checkbox
                mt="xs"
                size="xs"
                label={`Fine-tune with this plan (#${advice.plan.id}): the job records the plan and takes its checkpoint interval`}
                checked={usePlan}
                onChange={(e) => setUsePlan(e.currentTarget.checked)}
                data-testid="lm-use-plan"
              />
            )}
          </Card>
          {error && (
            <Alert color="red" data-testid="lm-train-error">
              {error.message}
            </Alert>
          )}
          <Group>
            <Button type="submit" loading={busy} data-testid="start-finetune">
              Start fine-tuning
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
