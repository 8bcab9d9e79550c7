import { describe, expect, it } from 'vitest';
import { checkDatasetFile, datasetNameFromFile, errorLocation, formatBytes, formatDuration, formatUsd, stateColor, timeAgo } from '../../src/lib/format';

describe('format', () => {
  it('formats money with cents, and sub-cent amounts with 4 digits', () => {
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(0.0042)).toBe('$0.0042');
    expect(formatUsd(-2)).toBe('-$2.00');
    expect(formatUsd(undefined)).toBe('—');
    expect(formatUsd(NaN)).toBe('—');
  });
  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(125)).toBe('2m 5s');
    expect(formatDuration(3 * 3600 + 600)).toBe('3h 10m');
    expect(formatDuration(-1)).toBe('—');
  });
  it('says how long ago', () => {
    expect(timeAgo(1000, 1010)).toBe('just now');
    expect(timeAgo(1000, 1000 + 600)).toBe('10 min ago');
    expect(timeAgo(1000, 1000 + 7200)).toBe('2 h ago');
    expect(timeAgo(0, 5)).toBe('—');
  });
  it('finds the line and column of a validation error', () => {
    expect(errorLocation({ line: 4, column: 2 }, 'whatever')).toEqual({ line: 4, column: 2 });
    expect(errorLocation({}, "'x.csv': line 4: expected 3 fields, got 2")).toEqual({ line: 4 });
    expect(errorLocation(undefined, 'line 1: column 3 has an empty name')).toEqual({ line: 1, column: 3 });
    expect(errorLocation({}, 'the upload is empty')).toEqual({});
    expect(errorLocation({}, 'baseline 5')).toEqual({});
  });
  it('checks dataset file names and derives dataset names', () => {
    expect(checkDatasetFile('iris.csv')).toBeNull();
    expect(checkDatasetFile('train-images-idx3-ubyte')).toBeNull();
    expect(checkDatasetFile('photo.exe')).toContain('does not look like a dataset');
    expect(datasetNameFromFile('My Iris Data.csv')).toBe('my-iris-data');
    expect(datasetNameFromFile('images.tar.gz')).toBe('images');
    expect(datasetNameFromFile('***.csv')).toBe('dataset');
  });
  it('colors states', () => {
    expect(stateColor('succeeded')).toBe('green');
    expect(stateColor('failed')).toBe('red');
    expect(stateColor('preempted')).toBe('orange');
    expect(stateColor('running')).toBe('blue');
  });
});
