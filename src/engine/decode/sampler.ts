// Turns processed scores (log-weights, −Infinity = banned) into a token: temperature, top-k,
// top-p (nucleus) and a seeded draw; greedy (argmax, lowest id on ties) at temperature 0.
// Every selector samples through here, so the same seed gives the same text whatever plugs in.
import type { SamplingOptions } from '../api';
import type { Rng, SamplingTools } from './hooks';

/** Sampling parameters the sampler reads (a subset of SamplingOptions). */
export type SamplerParams = Pick<SamplingOptions, 'temperature' | 'topP' | 'topK'>;

/** Index of the largest finite score (lowest id on ties), or −1 when every score is −Infinity/NaN. */
export function argmax(scores: Float32Array): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s > bestScore) {
      bestScore = s;
      best = i;
    }
  }
  return best;
}

/**
 * The truncated distribution as a sparse list: token ids in descending probability (ties by
 * id) and their normalised probabilities. Empty when everything is banned.
 */
export function truncatedDistribution(scores: Float32Array, params: SamplerParams): { ids: Int32Array; probs: Float64Array } {
  if (!(params.temperature > 0)) {
    const t = argmax(scores);
    return t < 0 ? { ids: new Int32Array(0), probs: new Float64Array(0) } : { ids: Int32Array.of(t), probs: Float64Array.of(1) };
  }
  const invT = 1 / params.temperature;
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  if (max === -Infinity || Number.isNaN(max)) return { ids: new Int32Array(0), probs: new Float64Array(0) };
  // Unnormalised weights exp((s − max)/T); the total is exact in float64.
  const w = new Float64Array(scores.length);
  let total = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    const x = s > -Infinity ? Math.exp((s - max) * invT) : 0;
    w[i] = x;
    total += x;
  }
  const topK = params.topK > 0 ? Math.floor(params.topK) : 0;
  const topP = params.topP > 0 && params.topP < 1 ? params.topP : 1;
  let ids: number[];
  if (topK === 0 && topP === 1) {
    ids = [];
    for (let i = 0; i < w.length; i++) if (w[i]! > 0) ids.push(i);
  } else {
    // Sort only the head of the distribution: lower a threshold until the tokens above it
    // surely contain the top k (or the nucleus mass), then sort those. Exact, and cheap on
    // 150k-token vocabularies where a full sort per step would dominate.
    let threshold = 1e-3;
    for (;;) {
      ids = [];
      let mass = 0;
      for (let i = 0; i < w.length; i++) {
        if (w[i]! >= threshold && w[i]! > 0) {
          ids.push(i);
          mass += w[i]!;
        }
      }
      const done = topK > 0 ? ids.length >= topK : mass >= topP * total * (1 - 1e-12);
      if (done || threshold < 1e-300) break;
      threshold /= 256;
    }
    ids.sort((a, b) => w[b]! - w[a]! || a - b);
    if (topK > 0 && ids.length > topK) ids.length = topK;
    if (topP < 1) {
      let headMass = 0;
      for (const id of ids) headMass += w[id]!;
      // With top-k the nucleus is taken within the k survivors (as transformers does).
      const need = topP * (topK > 0 ? headMass : total);
      let mass = 0;
      let keep = 0;
      while (keep < ids.length) {
        mass += w[ids[keep]!]!;
        keep++;
        if (mass >= need) break;
      }
      ids.length = Math.max(keep, 1);
    }
  }
  const probs = new Float64Array(ids.length);
  let kept = 0;
  for (const id of ids) kept += w[id]!;
  for (let j = 0; j < ids.length; j++) probs[j] = w[ids[j]!]! / kept;
  return { ids: Int32Array.from(ids), probs };
}

/** Draws a token from `scores`; −1 when every token is banned. One `rng.next()` per draw (none at T = 0). */
export function sampleToken(scores: Float32Array, params: SamplerParams, rng: Rng): number {
  if (!(params.temperature > 0)) return argmax(scores);
  const { ids, probs } = truncatedDistribution(scores, params);
  if (ids.length === 0) return -1;
  const u = rng.next();
  let acc = 0;
  for (let j = 0; j < ids.length; j++) {
    acc += probs[j]!;
    if (u < acc) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}

/** Dense form of `truncatedDistribution`. */
export function tokenProbabilities(scores: Float32Array, params: SamplerParams): Float32Array {
  const out = new Float32Array(scores.length);
  const { ids, probs } = truncatedDistribution(scores, params);
  for (let j = 0; j < ids.length; j++) out[ids[j]!] = probs[j]!;
  return out;
}

/** The SamplingTools the loop hands to selectors and healers. */
export function samplingTools(params: SamplingOptions, rng: Rng): SamplingTools {
  return {
    params,
    rng,
    sample: (scores) => sampleToken(scores, params, rng),
    probabilities: (scores) => tokenProbabilities(scores, params),
  };
}
