// Where a job or replica runs (GET /v1/cluster): this machine, or a partition of the server's
// Slurm cluster. The console offers the choice only when the server has a Slurm backend.

export interface SlurmPartition {
  name: string;
  offering: string | null; // catalog offering the partition is priced as; null = unpriced
  spot: boolean;
}

export interface Cluster {
  executors: string[];
  default_executor: { jobs: string; endpoints: string };
  slurm: null | { default_partition: string | null; partitions: SlurmPartition[] };
}

export interface RunOnOption {
  value: string; // "local" | "slurm:<partition>" ("slurm:" = Slurm's default partition)
  label: string;
}

// The choices, this machine first. Empty when there is nothing to choose (no Slurm backend).
export function runOnOptions(c: Cluster | undefined): RunOnOption[] {
  if (!c?.slurm) return [];
  const out: RunOnOption[] = [{ value: 'local', label: 'This machine' }];
  for (const p of c.slurm.partitions) {
    const priced = p.offering ? ` — ${p.offering}${p.spot ? ', spot' : ''}` : '';
    out.push({ value: `slurm:${p.name}`, label: `Slurm partition ${p.name}${priced}` });
  }
  const listed = c.slurm.partitions.some((p) => p.name === c.slurm?.default_partition);
  if (!listed) {
    const name = c.slurm.default_partition;
    out.push({ value: `slurm:${name ?? ''}`, label: name ? `Slurm partition ${name}` : "Slurm (the cluster's default partition)" });
  }
  return out;
}

// The choice a form starts with: the server's default executor for that kind of work.
export function defaultRunOn(c: Cluster | undefined, kind: 'jobs' | 'endpoints'): string {
  if (!c?.slurm || c.default_executor[kind] !== 'slurm') return 'local';
  return `slurm:${c.slurm.default_partition ?? c.slurm.partitions[0]?.name ?? ''}`;
}

// The request fields for a choice ("" = leave it to the server's default).
export function placementFields(value: string): Record<string, string> {
  if (!value) return {};
  if (value === 'local') return { executor: 'local' };
  const partition = value.startsWith('slurm:') ? value.slice('slurm:'.length) : '';
  return partition ? { executor: 'slurm', partition } : { executor: 'slurm' };
}
