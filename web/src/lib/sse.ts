// Server-sent events parsing for OpenAI-style streams (unit-tested). Feed it text as it arrives;
// it returns the complete events' data fields and keeps the partial tail for the next chunk.

export class SseParser {
  private buffer = '';

  // Returns the `data` payloads of every event completed by `chunk` (multi-line data joined by \n).
  push(chunk: string): string[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const out: string[] = [];
    let end = this.buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (data.length) out.push(data.join('\n'));
      end = this.buffer.indexOf('\n\n');
    }
    return out;
  }
}

export interface ChatDelta { text: string; done: boolean; finishReason?: string; usage?: { prompt_tokens?: number; completion_tokens?: number }; error?: string }

// One data payload of a chat/completions stream → the text it adds ("[DONE]" ends the stream).
export function chatDelta(data: string): ChatDelta {
  if (data.trim() === '[DONE]') return { text: '', done: true };
  let j: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    j = JSON.parse(data);
  } catch {
    return { text: '', done: false, error: 'the server sent a malformed event' };
  }
  if (j?.error) return { text: '', done: true, error: String(j.error.message ?? j.error) };
  const choice = j?.choices?.[0];
  const text = choice?.delta?.content ?? choice?.text ?? '';
  const out: ChatDelta = { text: typeof text === 'string' ? text : '', done: false };
  if (choice?.finish_reason) out.finishReason = choice.finish_reason;
  if (j?.usage) out.usage = j.usage;
  return out;
}

export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }

export function chatRequest(messages: ChatMessage[], opts: { maxTokens: number; temperature: number }) {
  return {
    messages: messages.filter((m) => m.content.trim() !== '' || m.role !== 'system'),
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: opts.maxTokens,
    temperature: opts.temperature,
  };
}

export function completionRequest(prompt: string, opts: { maxTokens: number; temperature: number }) {
  return { prompt, stream: true, stream_options: { include_usage: true }, max_tokens: opts.maxTokens, temperature: opts.temperature };
}
