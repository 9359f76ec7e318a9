// Loads a model folder in the transformers.js / optimum layout (architecture.md, "Model folder
// format"): config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx (or
// model_quantized.onnx). The only runtime module that touches the file system. Every problem
// becomes a TrellisError naming the file and the fix.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { TrellisError } from '../api';
import type { TokenizerLike } from '../interfaces';
import { detectFimTokens, type FimTokens } from './fim';
import { createSession, defaultThreads, OnnxLanguageModel, sessionSignature, type ModelGeometry, type OnnxModelOptions } from './onnxModel';

/** Order in which FIM content is laid out (see prompt/fimPrompt.ts). */
export type FimOrder = 'psm' | 'spm';

export interface LoadedModelFolder {
  directory: string;
  /** Display name: config `_name_or_path`/`name`, else the folder name. */
  name: string;
  config: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  tokenizer: TokenizerLike;
  model: OnnxLanguageModel;
  geometry: ModelGeometry;
  onnxFile: string;
  fim: FimTokens | null;
  fimOrder: FimOrder;
  /**
   * The prompt layout the model card asks for (config.json `trellis.prompt_layout`): `plain` for a
   * model whose FIM training did not take (the default model: see its card), else `fim` when the
   * model has FIM tokens.
   */
  promptLayout: 'fim' | 'plain';
  /** End-of-sequence ids (config eos_token_id and tokenizer_config eos_token). */
  eosIds: number[];
  /** Ids the model must never generate: special tokens that do not end a completion, vocabulary padding. */
  bannedIds: number[];
  /** Languages the model card claims (config `trellis.languages`), default ['python']. */
  languages: string[];
  /** Intra-op threads of the ONNX session. */
  threads: number;
}

export interface LoadModelFolderOptions extends OnnxModelOptions {
  /** Builds the tokenizer from tokenizer.json (H2's `Tokenizer.fromFile`). */
  loadTokenizer: (tokenizerJsonPath: string) => TokenizerLike | Promise<TokenizerLike>;
  signal?: AbortSignal;
}

const MAX_JSON_BYTES = 64 * 1024 * 1024;

function fixFor(dir: string): string {
  return `a model folder needs config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx (the optimum/transformers.js export layout); re-export the model or pass --model with a complete folder (${dir})`;
}

function readJson(file: string, dir: string, required: boolean): Record<string, unknown> | null {
  if (!fs.existsSync(file)) {
    if (!required) return null;
    throw new TrellisError(`model folder is missing ${path.basename(file)}: expected ${file}; ${fixFor(dir)}`, 'model_missing_file', file);
  }
  const size = fs.statSync(file).size;
  if (size > MAX_JSON_BYTES) throw new TrellisError(`${file} is ${size} bytes, too large for a JSON model file; replace it with the exported one`, 'model_corrupt', file);
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TrellisError(`${file} is not valid JSON (${(e as Error).message}); restore it from the model export`, 'model_corrupt', file);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TrellisError(`${file} must hold a JSON object; restore it from the model export`, 'model_corrupt', file);
  }
  return value as Record<string, unknown>;
}

function num(obj: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** Token content of a tokenizer_config.json entry (`"<eos>"` or `{ "content": "<eos>" }`). */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** Locates the ONNX decoder file. */
export function findOnnxFile(dir: string): string {
  const candidates = ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'onnx/decoder_model_merged.onnx', 'model.onnx'];
  for (const c of candidates) {
    const p = path.join(dir, c);
    if (fs.existsSync(p)) return p;
  }
  const p = path.join(dir, 'onnx', 'model.onnx');
  throw new TrellisError(`model folder is missing its ONNX graph: expected ${p} (or onnx/model_quantized.onnx); ${fixFor(dir)}`, 'model_missing_file', p);
}

/**
 * Checks that a session has the decoder-with-past layout and returns its geometry.
 * Layers, heads and head size come from config.json and must agree with the graph.
 */
export function validateSignature(
  sig: ReturnType<typeof sessionSignature>,
  config: Record<string, unknown>,
  onnxFile: string,
  configFile: string,
): ModelGeometry {
  const inputNames = sig.inputs.map((i) => i.name);
  const outputNames = sig.outputs.map((o) => o.name);
  const pastKeys = inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n));
  const layersInGraph = pastKeys.length;
  const layersInConfig = num(config, 'num_hidden_layers', 'n_layer', 'num_layers');
  const layers = layersInConfig ?? layersInGraph;
  const expectedIn = ['input_ids', 'attention_mask', ...Array.from({ length: Math.max(layers, 1) }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat()];
  const expectedOut = ['logits', ...Array.from({ length: Math.max(layers, 1) }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat()];
  const missingIn = expectedIn.filter((n) => !inputNames.includes(n));
  const missingOut = expectedOut.filter((n) => !outputNames.includes(n));
  const known = new Set([...expectedIn, 'position_ids', 'use_cache_branch']);
  const extraIn = inputNames.filter((n) => !known.has(n));
  const short = (a: string[]) => (a.length > 8 ? `${a.slice(0, 8).join(', ')}, … (${a.length})` : a.join(', '));
  if (missingIn.length || missingOut.length || extraIn.length || layersInGraph !== layers) {
    throw new TrellisError(
      `${onnxFile} does not have the decoder-with-past layout for ${layers} layers: ` +
        `expected inputs input_ids, attention_mask, [position_ids], past_key_values.{0..${layers - 1}}.key|value and outputs logits, present.{0..${layers - 1}}.key|value; ` +
        `found inputs [${short(inputNames)}] and outputs [${short(outputNames)}]` +
        (missingIn.length ? `; missing inputs: ${short(missingIn)}` : '') +
        (missingOut.length ? `; missing outputs: ${short(missingOut)}` : '') +
        (extraIn.length ? `; unexpected inputs: ${short(extraIn)}` : '') +
        `. Re-export with optimum (task text-generation-with-past) or tools/train/export_onnx.py`,
      'model_mismatch',
      onnxFile,
    );
  }
  const heads = num(config, 'num_attention_heads', 'n_head', 'num_heads');
  const hidden = num(config, 'hidden_size', 'n_embd', 'd_model');
  let kvHeads = num(config, 'num_key_value_heads', 'n_kv_head') ?? heads;
  let headDim = num(config, 'head_dim') ?? (hidden !== undefined && heads ? hidden / heads : undefined);
  // The graph's own shapes win where they are concrete numbers; disagreement is an error.
  const pastMeta = sig.inputs.find((i) => i.name === 'past_key_values.0.key');
  if (pastMeta?.type && pastMeta.type !== 'float32') {
    throw new TrellisError(`${onnxFile}: past_key_values are ${pastMeta.type}; Trellis runs float32 caches on the CPU — export the model in float32 (weights may still be quantized)`, 'model_mismatch', onnxFile);
  }
  const shape = pastMeta?.shape ?? [];
  const gHeads = typeof shape[1] === 'number' ? shape[1] : undefined;
  const gDim = typeof shape[3] === 'number' ? shape[3] : undefined;
  if (gHeads !== undefined && kvHeads !== undefined && gHeads !== kvHeads) {
    throw new TrellisError(`${configFile} says ${kvHeads} key/value heads but ${onnxFile} has ${gHeads} in past_key_values.0.key; the config does not belong to this graph — re-export both together`, 'model_mismatch', configFile);
  }
  if (gDim !== undefined && headDim !== undefined && gDim !== headDim) {
    throw new TrellisError(`${configFile} implies head size ${headDim} but ${onnxFile} has ${gDim} in past_key_values.0.key; the config does not belong to this graph — re-export both together`, 'model_mismatch', configFile);
  }
  kvHeads = gHeads ?? kvHeads;
  headDim = gDim ?? headDim;
  if (!kvHeads || !headDim || !Number.isInteger(headDim)) {
    throw new TrellisError(`${configFile} must give num_attention_heads (or n_head) and hidden_size (or n_embd, or head_dim) so the attention cache can be shaped`, 'model_corrupt', configFile);
  }
  const logitsMeta = sig.outputs.find((o) => o.name === 'logits');
  const gVocab = typeof logitsMeta?.shape?.[2] === 'number' ? (logitsMeta.shape[2] as number) : undefined;
  const cVocab = num(config, 'vocab_size', 'n_vocab');
  if (gVocab !== undefined && cVocab !== undefined && gVocab !== cVocab) {
    throw new TrellisError(`${configFile} says vocab_size ${cVocab} but ${onnxFile} produces ${gVocab} logits; re-export both together`, 'model_mismatch', configFile);
  }
  const vocabSize = gVocab ?? cVocab;
  if (!vocabSize) throw new TrellisError(`${configFile} must give vocab_size`, 'model_corrupt', configFile);
  const contextLength = num(config, 'max_position_embeddings', 'n_positions', 'n_ctx', 'max_pos', 'max_seq_len', 'seq_length') ?? 2048;
  return {
    layers,
    kvHeads,
    headDim,
    vocabSize,
    contextLength,
    hasPositionIds: inputNames.includes('position_ids'),
    hasUseCacheBranch: inputNames.includes('use_cache_branch'),
  };
}

/** Loads and validates a model folder; the returned model is ready for `forward`. */
export async function loadModelFolder(dirIn: string, opts: LoadModelFolderOptions): Promise<LoadedModelFolder> {
  const dir = path.resolve(dirIn);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new TrellisError(`model folder not found: ${dir}; pass --model with a folder holding config.json, tokenizer.json and onnx/model.onnx`, 'model_missing_file', dir);
  }
  const configFile = path.join(dir, 'config.json');
  const config = readJson(configFile, dir, true)!;
  const tokJson = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tokJson)) {
    throw new TrellisError(`model folder is missing tokenizer.json: expected ${tokJson}; ${fixFor(dir)}`, 'model_missing_file', tokJson);
  }
  const tokConfigFile = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfig = readJson(tokConfigFile, dir, true)!;
  const onnxFile = findOnnxFile(dir);
  if (opts.signal?.aborted) throw new TrellisError('model loading was cancelled', 'aborted');

  let tokenizer: TokenizerLike;
  try {
    tokenizer = await opts.loadTokenizer(tokJson);
  } catch (e) {
    if (e instanceof TrellisError) throw e;
    throw new TrellisError(`${tokJson} could not be loaded as a byte-level BPE tokenizer (${(e as Error).message}); restore it from the model export`, 'tokenizer_invalid', tokJson);
  }

  let session: ort.InferenceSession;
  try {
    session = await createSession(onnxFile, opts);
  } catch (e) {
    throw new TrellisError(`${onnxFile} could not be opened by onnxruntime (${firstLine((e as Error).message)}); the file is corrupt or truncated — re-export or re-download it`, 'model_corrupt', onnxFile);
  }
  let geometry: ModelGeometry;
  try {
    geometry = validateSignature(sessionSignature(session), config, onnxFile, configFile);
  } catch (e) {
    void session.release();
    throw e;
  }
  if (geometry.vocabSize < tokenizer.vocabSize) {
    void session.release();
    throw new TrellisError(
      `vocabulary sizes disagree: ${tokJson} has ${tokenizer.vocabSize} tokens but the model (${onnxFile}, ${configFile}) scores only ${geometry.vocabSize}; the tokenizer does not belong to this model — use the tokenizer.json exported with it`,
      'model_mismatch',
      tokJson,
    );
  }
  const model = new OnnxLanguageModel(session, geometry);
  // A one-token probe: catches graphs that load but do not run (wrong dtypes, broken weights)
  // at load time with a clear message, and checks the real logits width.
  try {
    const probe = await model.forward([{ ids: [0], cache: model.newCache() }]);
    if (probe[0]!.length !== geometry.vocabSize) throw new Error(`logits width ${probe[0]!.length} ≠ ${geometry.vocabSize}`);
    if (!probe[0]!.every(Number.isFinite)) throw new Error('logits are not finite');
  } catch (e) {
    model.dispose();
    throw new TrellisError(`${onnxFile} loads but a test forward pass failed (${firstLine((e as Error).message)}); check that config.json matches the graph or re-export it`, 'model_mismatch', onnxFile);
  }
  model.calls = 0;

  const fim = detectFimTokens(tokenizer);
  const eosIds = new Set<number>();
  const cfgEos = config.eos_token_id;
  for (const v of Array.isArray(cfgEos) ? cfgEos : [cfgEos]) if (typeof v === 'number' && v >= 0 && v < tokenizer.vocabSize) eosIds.add(v);
  const eosContent = tokenContent(tokenizerConfig.eos_token);
  if (eosContent !== undefined) {
    const id = tokenizer.specialTokenId(eosContent);
    if (id !== undefined) eosIds.add(id);
  }
  if (eosIds.size === 0 && fim?.end === undefined) {
    const id = tokenizer.specialTokenId('<|endoftext|>') ?? tokenizer.specialTokenId('</s>');
    if (id !== undefined) eosIds.add(id);
  }
  const ends = new Set([...eosIds, ...(fim?.end !== undefined ? [fim.end] : [])]);
  const bannedIds: number[] = [];
  for (let id = 0; id < geometry.vocabSize; id++) {
    if (id >= tokenizer.vocabSize || (!ends.has(id) && tokenizer.isSpecial(id))) bannedIds.push(id);
  }
  const trellis = (config.trellis ?? {}) as Record<string, unknown>;
  // The model card (config.json `trellis.fim.default_mode`) decides PSM vs SPM; PSM otherwise.
  const trellisFim = (trellis.fim ?? {}) as Record<string, unknown>;
  const orderRaw = String(trellisFim.default_mode ?? trellis.fim_order ?? config.fim_order ?? tokenizerConfig.fim_order ?? 'psm').toLowerCase();
  const languages = Array.isArray(trellis.languages) ? trellis.languages.filter((x): x is string => typeof x === 'string') : ['python'];
  const name = [trellis.name, config._name_or_path, config.name].find((x): x is string => typeof x === 'string' && x.length > 0) ?? path.basename(dir);
  return {
    directory: dir,
    name,
    config,
    tokenizerConfig,
    tokenizer,
    model,
    geometry,
    onnxFile,
    fim,
    fimOrder: orderRaw === 'spm' ? 'spm' : 'psm',
    promptLayout: fim && trellis.prompt_layout !== 'plain' ? 'fim' : 'plain',
    eosIds: [...eosIds],
    bannedIds,
    languages,
    threads: opts.threads ?? defaultThreads(),
  };
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).slice(0, 300);
}
