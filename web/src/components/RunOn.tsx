// "Run on": this machine or a Slurm partition, shown only when the server has a Slurm backend.
import { Select } from '@mantine/core';
import { defaultRunOn, runOnOptions, type Cluster } from '../lib/cluster';
import { useApi } from '../lib/useApi';

export function RunOnSelect({ kind, value, onChange }: { kind: 'jobs' | 'endpoints'; value: string; onChange: (v: string) => void }) {
  const cluster = useApi<Cluster>('/v1/cluster');
  const options = runOnOptions(cluster.data);
  if (options.length === 0) return null;
  return (
    <Select
      label="Run on"
      data={options}
      value={value || defaultRunOn(cluster.data, kind)}
      onChange={(v) => onChange(v ?? '')}
      allowDeselect={false}
      data-testid="run-on"
    />
  );
}
