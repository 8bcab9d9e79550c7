// Job timeline: classifies job events (GET /v1/jobs/{id}/events) for display (unit-tested).
import type { Event } from '../api/types';

export type TimelineKind = 'preemption' | 'checkpoint' | 'recovery' | 'pause' | 'failure' | 'success' | 'state';

export interface TimelineEntry { id: number; kind: TimelineKind; action: string; message: string; at: number }

export function timelineKind(action: string): TimelineKind {
  const a = action.toLowerCase();
  if (a.includes('preempt') || a.includes('interrupt') || a.includes('notice')) return 'preemption';
  if (a.includes('checkpoint')) return 'checkpoint';
  if (a.includes('recover') || a.includes('resum') || a.includes('restart') || a.includes('retry')) return 'recovery';
  if (a.includes('pause')) return 'pause';
  if (a === 'failed' || a.includes('error') || a.includes('fail')) return 'failure';
  if (a === 'succeeded') return 'success';
  return 'state';
}

export const TIMELINE_COLORS: Record<TimelineKind, string> = {
  preemption: 'orange',
  checkpoint: 'blue',
  recovery: 'teal',
  pause: 'gray',
  failure: 'red',
  success: 'green',
  state: 'gray',
};

// Oldest first, only this job's events, with counts of the interesting kinds.
export function jobTimeline(events: Event[], jobId: number): { entries: TimelineEntry[]; counts: Record<TimelineKind, number> } {
  const counts: Record<TimelineKind, number> = { preemption: 0, checkpoint: 0, recovery: 0, pause: 0, failure: 0, success: 0, state: 0 };
  const entries = events
    .filter((e) => e.kind === 'job' && e.subject_id === jobId)
    .sort((a, b) => a.created_at - b.created_at || a.id - b.id)
    .map((e) => {
      const kind = timelineKind(e.action);
      counts[kind]++;
      return { id: e.id, kind, action: e.action, message: e.message, at: e.created_at };
    });
  return { entries, counts };
}

// Which job controls make sense in a state.
export function jobControls(state: string): { pause: boolean; resume: boolean; notice: boolean } {
  const pausable = ['queued', 'provisioning', 'running', 'checkpointing', 'preempted', 'recovering'].includes(state);
  return { pause: pausable, resume: state === 'paused', notice: state === 'running' };
}
