// Detects a model's fill-in-the-middle tokens from its vocabulary: StarCoder, Qwen2.5-Coder,
// CodeLlama and DeepSeek-Coder spellings. The first family whose prefix/suffix/middle tokens all
// exist wins.
import type { TokenizerLike } from '../interfaces';

export type FimFamily = 'starcoder' | 'qwen' | 'codellama' | 'deepseek';

/** The FIM tokens of a model, by id and spelling. */
export interface FimTokens {
  family: FimFamily;
  prefix: number;
  suffix: number;
  middle: number;
  /** Token that ends a middle (StarCoder `<|endoftext|>`, Qwen `<|endoftext|>`, CodeLlama `<EOT>`), if any. */
  end?: number;
  /** Padding token of the FIM format, if any (never generated). */
  pad?: number;
  spelling: { prefix: string; suffix: string; middle: string; end?: string; pad?: string };
}

interface Family {
  family: FimFamily;
  prefix: string[];
  suffix: string[];
  middle: string[];
  end: string[];
  pad: string[];
}

// Alternatives in preference order; CodeLlama's SentencePiece vocabularies spell the sentinels
// with a leading '▁' in some conversions.
const FAMILIES: Family[] = [
  { family: 'starcoder', prefix: ['<fim_prefix>'], suffix: ['<fim_suffix>'], middle: ['<fim_middle>'], end: ['<|endoftext|>'], pad: ['<fim_pad>'] },
  { family: 'qwen', prefix: ['<|fim_prefix|>'], suffix: ['<|fim_suffix|>'], middle: ['<|fim_middle|>'], end: ['<|endoftext|>'], pad: ['<|fim_pad|>'] },
  { family: 'codellama', prefix: ['▁<PRE>', '<PRE>'], suffix: ['▁<SUF>', '<SUF>'], middle: ['▁<MID>', '<MID>'], end: ['▁<EOT>', '<EOT>'], pad: [] },
  { family: 'deepseek', prefix: ['<｜fim▁begin｜>'], suffix: ['<｜fim▁hole｜>'], middle: ['<｜fim▁end｜>'], end: ['<｜end▁of▁sentence｜>', '<|EOT|>'], pad: [] },
];

function find(tok: TokenizerLike, spellings: string[]): { id: number; spelling: string } | undefined {
  for (const s of spellings) {
    const id = tok.specialTokenId(s);
    if (id !== undefined) return { id, spelling: s };
  }
  return undefined;
}

/** FIM tokens of the tokenizer's vocabulary, or null when it has none (left-to-right only). */
export function detectFimTokens(tok: TokenizerLike): FimTokens | null {
  for (const f of FAMILIES) {
    const p = find(tok, f.prefix);
    const s = find(tok, f.suffix);
    const m = find(tok, f.middle);
    if (!p || !s || !m) continue;
    const e = find(tok, f.end);
    const pad = find(tok, f.pad);
    return {
      family: f.family,
      prefix: p.id,
      suffix: s.id,
      middle: m.id,
      end: e?.id,
      pad: pad?.id,
      spelling: { prefix: p.spelling, suffix: s.spelling, middle: m.spelling, end: e?.spelling, pad: pad?.spelling },
    };
  }
  return null;
}
