import { describe, expect, it } from 'vitest';
import { defaultRunOn, placementFields, runOnOptions, type Cluster } from '../../src/lib/cluster';

const local: Cluster = { executors: ['local'], default_executor: { jobs: 'local', endpoints: 'local' }, slurm: null };
const slurm: Cluster = {
  executors: ['local', 'slurm'],
  default_executor: { jobs: 'slurm', endpoints: 'local' },
  slurm: {
    default_partition: 'gpu',
    partitions: [
      { name: 'gpu', offering: 'g5.xlarge@use1-az1', spot: true },
      { name: 'cpu', offering: null, spot: false },
    ],
  },
};

describe('run on', () => {
  it('offers nothing without a Slurm backend', () => {
    expect(runOnOptions(local)).toEqual([]);
    expect(runOnOptions(undefined)).toEqual([]);
    expect(defaultRunOn(local, 'jobs')).toBe('local');
  });
  it('lists this machine and each partition with its offering', () => {
    expect(runOnOptions(slurm)).toEqual([
      { value: 'local', label: 'This machine' },
      { value: 'slurm:gpu', label: 'Slurm partition gpu — g5.xlarge@use1-az1, spot' },
      { value: 'slurm:cpu', label: 'Slurm partition cpu' },
    ]);
  });
  it("adds the cluster's default partition when no partition is mapped", () => {
    const bare: Cluster = { ...slurm, slurm: { default_partition: null, partitions: [] } };
    expect(runOnOptions(bare)).toEqual([
      { value: 'local', label: 'This machine' },
      { value: 'slurm:', label: "Slurm (the cluster's default partition)" },
    ]);
    expect(placementFields('slurm:')).toEqual({ executor: 'slurm' });
  });
  it("starts from the server's default executor per kind of work", () => {
    expect(defaultRunOn(slurm, 'jobs')).toBe('slurm:gpu');
    expect(defaultRunOn(slurm, 'endpoints')).toBe('local');
  });
  it('turns a choice into request fields', () => {
    expect(placementFields('')).toEqual({});
    expect(placementFields('local')).toEqual({ executor: 'local' });
    expect(placementFields('slurm:gpu')).toEqual({ executor: 'slurm', partition: 'gpu' });
  });
});
