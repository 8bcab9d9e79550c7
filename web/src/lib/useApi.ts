// Data loading hook: GET a path, optional polling; exposes loading/error/data and reload().
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api } from '../api/client';

export interface ApiState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean; // true only until the first answer
  reload: () => void;
}

// `keep`: when the path changes, keep showing the previous data until the new answer arrives
// (for a URL that only gains a parameter, e.g. `&final=1` once a job ends: no flicker).
export function useApi<T>(path: string | null, intervalMs = 0, keep = false): ApiState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const pathRef = useRef(path);

  useEffect(() => {
    if (pathRef.current !== path) {
      pathRef.current = path;
      if (!keep || path === null) {
        setData(undefined);
        setError(undefined);
        setLoading(path !== null);
      }
    }
    if (path === null) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const d = await api.get<T>(path, controller.signal);
        setData(d);
        setError(undefined);
      } catch (e) {
        if ((e as Error).name === 'AbortError') return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e)));
      } finally {
        if (!controller.signal.aborted) {
          setLoading(false);
          if (intervalMs > 0) timer = setTimeout(load, intervalMs);
        }
      }
    };
    load();
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [path, intervalMs, tick]); // eslint-disable-line react-hooks/exhaustive-deps

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
