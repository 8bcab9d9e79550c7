// The console's only way to the server: the public /v1 API with a bearer token.
// A 401 from any call clears the token and notifies listeners (the app sends the user to login).

const TOKEN_KEY = 'sskai.token';

export class ApiError extends Error {
  status: number; // HTTP status, 0 when the server could not be reached
  code: string;
  details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Turns a non-2xx response body into an ApiError (the server's {"error":{code,message,details}}).
export function errorFromBody(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
      return new ApiError(status, String(body.error.code ?? 'error'), String(body.error.message ?? text),
        (body.error.details as Record<string, unknown>) ?? {});
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(status, 'http_' + status, text.trim() || `HTTP ${status}`);
}

function handle401(status: number) {
  if (status === 401) {
    setToken(null);
    unauthorizedListeners.forEach((fn) => fn());
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  token?: string; // overrides the stored token (login)
  signal?: AbortSignal;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const token = opts.token ?? getToken();
  const headers: Record<string, string> = {};
  if (token) headers['Authorization'] = 'Bearer ' + token;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body, signal: opts.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'Cannot reach the sskai server. Check that it is running and try again.');
  }
  const text = await res.text();
  if (!res.ok) {
    if (!opts.token) handle401(res.status);
    throw errorFromBody(res.status, text);
  }
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/json')) return (text ? JSON.parse(text) : null) as T;
  return text as unknown as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>(path, { signal }),
  post: <T>(path: string, body: unknown = {}) => request<T>(path, { method: 'POST', body }),
  del: <T>(path: string) => request<T>(path, { method: 'DELETE' }),
  patch: <T>(path: string, body: unknown) => request<T>(path, { method: 'PATCH', body }),
};

// Streams a file as the request body with progress (fetch has no upload progress).
export function uploadFile<T>(path: string, file: Blob, onProgress: (fraction: number) => void): {
  promise: Promise<T>;
  abort: () => void;
} {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<T>((resolve, reject) => {
    xhr.open('POST', path);
    const token = getToken();
    if (token) xhr.setRequestHeader('Authorization', 'Bearer ' + token);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(JSON.parse(xhr.responseText) as T);
      } else {
        handle401(xhr.status);
        reject(errorFromBody(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'unreachable', 'The upload failed: the connection to the server was lost.'));
    xhr.onabort = () => reject(new ApiError(0, 'cancelled', 'The upload was cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

// POSTs `body` and hands the response body to `onText` as it streams (server-sent events);
// resolves when the stream ends. Aborting `signal` stops it (rejects with an AbortError).
export async function postStream(path: string, body: unknown, onText: (chunk: string) => void, signal?: AbortSignal): Promise<void> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  const token = getToken();
  if (token) headers['Authorization'] = 'Bearer ' + token;
  let res: Response;
  try {
    res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'Cannot reach the sskai server. Check that it is running and try again.');
  }
  if (!res.ok) {
    const text = await res.text();
    handle401(res.status);
    throw errorFromBody(res.status, text);
  }
  if (!res.body) {
    onText(await res.text());
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError(0, 'unreachable', 'The connection to the server was lost while streaming.');
    }
    if (chunk.done) break;
    try {
      onText(decoder.decode(chunk.value, { stream: true }));
    } catch (e) {
      void reader.cancel().catch(() => {});
      throw e;
    }
  }
  const tail = decoder.decode();
  if (tail) onText(tail);
}

export function enc(s: string | number): string {
  return encodeURIComponent(String(s));
}
