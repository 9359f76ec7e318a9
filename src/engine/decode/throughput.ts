// Raw decode throughput of a loaded model (for `trellis bench decode`): prompt building, prefill
// and a fixed number of greedy steps with the end tokens banned, so every prompt decodes the same
// length whatever the model would prefer. No grammar, healing or steering.
import type { LoadedModelFolder } from '../runtime/modelFolder';
import { buildPrompt } from '../prompt/fimPrompt';
import { decode } from './loop';
import { Xoshiro128 } from './rng';

export interface ThroughputSample {
  promptTokens: number;
  generatedTokens: number;
  /** From the start (prompt building included) to the first generated token. */
  firstTokenMs: number;
  /** Generated tokens per second after the first one. */
  tokensPerSecond: number;
  /**
   * Process CPU milliseconds (all threads) per generated token after the first: a figure that
   * stays meaningful on a machine shared with other work, where wall-clock rates do not.
   */
  cpuMsPerToken: number;
}

/** Decodes `tokens` greedy tokens after the prompt of (prefix, suffix) in the model card's layout. */
export async function measureDecode(m: LoadedModelFolder, prefix: string, suffix: string, tokens: number): Promise<ThroughputSample> {
  const started = performance.now();
  const ends = [...m.eosIds, ...(m.fim?.end !== undefined ? [m.fim.end] : [])];
  const budget = Math.min(1024, m.geometry.contextLength - tokens - 1);
  const enc = new TextEncoder();
  const prompt = buildPrompt({ tokenizer: m.tokenizer, fim: m.promptLayout === 'fim' ? m.fim : null, order: m.fimOrder }, enc.encode(prefix), enc.encode(suffix), { maxTokens: budget });
  const cache = m.model.newCache();
  const [logits] = (await m.model.forward([{ ids: prompt.ids, cache }])) as [Float32Array];
  let cpuAtFirst: NodeJS.CpuUsage | null = null;
  const out = await decode({
    model: m.model,
    tokenizer: m.tokenizer,
    cache,
    logits,
    params: { temperature: 0, topP: 1, topK: 0, seed: 0, maxTokens: tokens, stop: [] },
    rng: new Xoshiro128(0),
    endTokens: new Map(),
    banned: [...m.bannedIds, ...ends],
    startedAt: started,
    hooks: { onToken: () => void (cpuAtFirst ??= process.cpuUsage()) },
  });
  const cpu = cpuAtFirst ? process.cpuUsage(cpuAtFirst) : { user: 0, system: 0 };
  out.cache.dispose();
  cache.dispose();
  const n = out.tokens.length;
  const decodeMs = out.totalMs - out.firstTokenMs;
  return { promptTokens: prompt.ids.length, generatedTokens: n, firstTokenMs: out.firstTokenMs, tokensPerSecond: n > 1 && decodeMs > 0 ? ((n - 1) * 1000) / decodeMs : 0, cpuMsPerToken: n > 1 ? (cpu.user + cpu.system) / 1000 / (n - 1) : 0 };
}
