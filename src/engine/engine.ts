// The engine facade (the only engine entry point for the CLI, the worker and the tests): loads a
// model folder, turns a CompletionRequest (strings) into bytes, builds the prompt, prefills the
// cache, runs the decode loop with the plugged-in grammar / healing / steering hooks, and turns
// the bytes back into a CompletionResult. Requests run one at a time (one model, one CPU budget).
import type { CompletionOptions, CompletionRequest, CompletionResult, HealingMode, ModelInfo, StopReason, AttributeInfo } from './api';
import { DEFAULT_OPTIONS, TrellisError } from './api';
import type { KvCache, LanguageModel, LogitsProcessor, Matcher, TokenizerLike } from './interfaces';
import type { HealResult, PromptTailHealer, StopCheck, TokenSelector } from './decode/hooks';
import { decode, type DecodeInput, type DecodeOutput } from './decode/loop';
import { Xoshiro128 } from './decode/rng';
import { samplingTools } from './decode/sampler';
import { buildPrompt, modelPromptSpec, type BuiltPrompt } from './prompt/fimPrompt';
import { loadModelFolder, type LoadedModelFolder } from './runtime/modelFolder';
import { loadTokenizerFile } from './runtime/tokenizerLoader';
import { createHealer } from './healing';
import { SteeringModel } from './steering/load';
import { steeringPlugins } from './steering';
import { grammarPlugin } from './decode/grammar';
import { createMatcher, grammarLanguages, loadGrammar } from './grammar';
import { Tokenizer } from './tokenizer';
import { incompleteUtf8Tail, utf8Decode, utf8Encode, utf8ToUtf16Offset } from './text';

/** Documents larger than this (UTF-8 bytes of prefix + suffix) are refused. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** What a plugin sees of one request, after options are merged and the text is bytes. */
export interface RequestContext {
  readonly request: CompletionRequest;
  readonly options: CompletionOptions;
  /** The prefix the prompt ends with (healing's tail already removed) — all of it, untrimmed. */
  readonly prefix: Uint8Array;
  /** The whole suffix. */
  readonly suffix: Uint8Array;
  /** Bytes healing removed from the end of the prefix (the completion re-spells them). */
  readonly tail: Uint8Array;
  readonly prompt: BuiltPrompt;
  readonly tokenizer: TokenizerLike;
  readonly model: LanguageModel;
  readonly endTokens: ReadonlyMap<number, StopReason>;
  readonly signal?: AbortSignal;
}

/** Per-request grammar state (H4 matcher + H7 selectors). One selector per candidate. */
export interface GrammarSession {
  /** Matcher after the prefix (healing checks covers against it). */
  readonly matcher?: Matcher;
  /** A fresh selector for candidate `index` (ASAp shares its trie across candidates). */
  newSelector(index: number): TokenSelector;
  /** Extra stop rules (e.g. grammar-aware loop guards). */
  stopChecks?(): StopCheck[];
  dispose(): void;
}

/** Per-request steering state (H8): processors with their own discriminator caches. */
export interface SteeringSession {
  /** Processors for candidate `index` (each candidate needs its own discriminator caches). */
  newProcessors(index: number): Promise<LogitsProcessor[]> | LogitsProcessor[];
  dispose(): void;
}

/**
 * The seams through which grammar, healing and steering plug into the engine. Each returns
 * null when its mode is off or its module cannot serve the request (e.g. no grammar for the
 * language); the engine then decodes without it and the result's stats say so.
 */
export interface EnginePlugins {
  /** H6: a healer for the requested mode ('token' | 'exact'); null for 'off'. */
  healer?(mode: HealingMode, tokenizer: TokenizerLike): PromptTailHealer | null;
  /** H4/H7: grammar session for the request's language and mode. Called after the prompt is built. */
  grammar?(ctx: RequestContext): Promise<GrammarSession | null> | GrammarSession | null;
  /** H8: steering session for the request's attributes (the GeDi model is loaded once per engine). */
  steering?(ctx: RequestContext): Promise<SteeringSession | null> | SteeringSession | null;
  /** Attributes the loaded discriminator knows (ModelInfo.attributes). */
  attributes?(): AttributeInfo[];
  dispose?(): void | Promise<void>;
}

export interface EngineLoadOptions {
  /** Folder of the GeDi discriminator (steering); optional. */
  gediDir?: string;
  signal?: AbortSignal;
  /** Intra-op threads of the ONNX session. */
  threads?: number;
  /** Grammar / healing / steering seams; default: `defaultPlugins` (what exists in this build). */
  plugins?: EnginePlugins | ((loaded: LoadedModelFolder, opts: EngineLoadOptions) => Promise<EnginePlugins> | EnginePlugins);
}

/**
 * The plugins wired in this build: healing (H6), grammar modes over the tree-sitter grammars
 * (H4 matcher + H7 selectors), GeDi steering (H8) when a discriminator folder is given.
 * Languages without a grammar decode unconstrained (stats.suffixCheck 'none').
 */
export async function defaultPlugins(loaded: LoadedModelFolder, opts: EngineLoadOptions): Promise<EnginePlugins> {
  // Healers index the vocabulary once; keep one per mode for the engine's lifetime.
  const healers = new Map<HealingMode, PromptTailHealer | null>();
  const tokenizer = loaded.tokenizer;
  const known = new Set(grammarLanguages());
  const matcherFor = (languageId: string): Matcher | null => {
    if (!known.has(languageId)) return null;
    const trie = tokenizer instanceof Tokenizer ? tokenizer.trie() : undefined;
    return createMatcher(loadGrammar(languageId), trie, tokenizer);
  };
  const grammar = grammarPlugin(matcherFor);
  // The GeDi discriminator shares the base tokenizer; loaded once, a session per request.
  const gedi = opts.gediDir ? await SteeringModel.load(opts.gediDir, { baseTokenizer: tokenizer, threads: 1, signal: opts.signal }) : null;
  return {
    healer(mode, tok) {
      if (!healers.has(mode)) healers.set(mode, createHealer(mode, tok));
      return healers.get(mode)!;
    },
    grammar: (ctx) => grammar(ctx),
    ...(gedi ? steeringPlugins(gedi) : {}),
  };
}

function checkOptions(o: CompletionOptions): void {
  const bad = (what: string) => {
    throw new TrellisError(`invalid completion option: ${what}`, 'bad_request');
  };
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature)) bad(`temperature must be ≥ 0 (got ${o.temperature})`);
  if (!(o.topP > 0 && o.topP <= 1)) bad(`topP must be in (0, 1] (got ${o.topP})`);
  if (!(o.topK >= 0) || !Number.isInteger(o.topK)) bad(`topK must be an integer ≥ 0 (got ${o.topK})`);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 0) bad(`maxTokens must be an integer ≥ 0 (got ${o.maxTokens})`);
  if (!Number.isFinite(o.seed)) bad(`seed must be a finite number (got ${o.seed})`);
  if (!Number.isInteger(o.contextTokens) || o.contextTokens < 8) bad(`contextTokens must be an integer ≥ 8 (got ${o.contextTokens})`);
  if (!['off', 'mask', 'aligned'].includes(o.grammar)) bad(`grammar must be off, mask or aligned (got ${o.grammar})`);
  if (!['off', 'token', 'exact'].includes(o.healing)) bad(`healing must be off, token or exact (got ${o.healing})`);
  if (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string')) bad('stop must be a list of strings');
  if (!Number.isInteger(o.maxRepeatsInLine) || o.maxRepeatsInLine < 0) bad(`maxRepeatsInLine must be an integer ≥ 0, 0 for no limit (got ${o.maxRepeatsInLine})`);
  for (const [k, v] of Object.entries(o.attributes ?? {})) if (!Number.isFinite(v)) bad(`attribute weight ${k} must be a number (got ${v})`);
}

/** A mutex over the model: requests wait for the previous one (or give up when aborted). */
class Queue {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise((r) => (release = r));
    try {
      await prev;
      return await fn();
    } finally {
      release();
    }
  }
}

/** One prepared request: prompt prefilled, hooks ready; candidates fork from it. */
interface Prepared {
  ctx: RequestContext;
  cache: KvCache;
  logits: Float32Array;
  healer: PromptTailHealer | null;
  grammar: GrammarSession | null;
  steering: SteeringSession | null;
  respelledChars: number;
  modelCalls: number;
  started: number;
}

/** The Trellis engine: one model folder, completions on demand. */
export class Engine {
  private readonly queue = new Queue();
  private disposed = false;

  private constructor(
    private readonly loaded: LoadedModelFolder,
    private readonly plugins: EnginePlugins,
  ) {}

  /**
   * Loads a model folder (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx).
   * Throws TrellisError naming the file and the fix when the folder is incomplete or inconsistent.
   */
  static async load(modelDir: string, opts: EngineLoadOptions = {}): Promise<Engine> {
    const loaded = await loadModelFolder(modelDir, { loadTokenizer: loadTokenizerFile, signal: opts.signal, threads: opts.threads });
    try {
      const p = opts.plugins ?? defaultPlugins;
      const plugins = typeof p === 'function' ? await p(loaded, opts) : p;
      return new Engine(loaded, plugins);
    } catch (e) {
      loaded.model.dispose();
      throw e;
    }
  }

  /** The loaded model folder (runtime internals, for benchmarks and tests). */
  get model(): LoadedModelFolder {
    return this.loaded;
  }

  info(): ModelInfo {
    const l = this.loaded;
    return {
      name: l.name,
      directory: l.directory,
      vocabSize: l.tokenizer.vocabSize,
      contextLength: l.geometry.contextLength,
      fimTokens: l.fim ? { prefix: l.fim.spelling.prefix, suffix: l.fim.spelling.suffix, middle: l.fim.spelling.middle, end: l.fim.spelling.end } : null,
      attributes: this.plugins.attributes?.() ?? [],
      languages: l.languages,
    };
  }

  /** One completion at the cursor between `prefix` and `suffix`. */
  async complete(req: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    const [r] = await this.infill(req, 1, signal);
    return r!;
  }

  /**
   * `n` candidates for the same request: the prompt is prefilled once and each candidate decodes
   * from a fork of its cache, with its own random stream (seed, candidate index).
   */
  async infill(req: CompletionRequest, n: number, signal?: AbortSignal): Promise<CompletionResult[]> {
    if (this.disposed) throw new TrellisError('the engine was disposed; load the model again', 'bad_request');
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new TrellisError(`candidates must be an integer in 1..64 (got ${n})`, 'bad_request');
    const started = performance.now();
    const options = this.options(req);
    const { prefix, suffix } = this.documentBytes(req);
    const aborted = () => Array.from({ length: n }, () => this.abortedResult(started));
    let began = false;
    const run = this.queue.run(async () => {
      began = true;
      if (signal?.aborted) return aborted();
      const prep = await this.prepare(req, options, prefix, suffix, started, signal);
      try {
        const results: CompletionResult[] = [];
        for (let i = 0; i < n; i++) results.push(await this.candidate(prep, i, signal));
        return results;
      } finally {
        prep.cache.dispose();
        prep.grammar?.dispose();
        prep.steering?.dispose();
      }
    });
    if (!signal) return run;
    // A request cancelled while it waits behind another one answers at once (its turn in the
    // queue then passes without work).
    return new Promise((resolve, reject) => {
      // Once running, the loop itself stops between steps and returns the partial text.
      const onAbort = () => {
        if (!began) resolve(aborted());
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      run.then(
        (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.run(async () => {
      await this.plugins.dispose?.();
      this.loaded.model.dispose();
    });
  }

  private options(req: CompletionRequest): CompletionOptions {
    const o = { ...DEFAULT_OPTIONS, ...(req.options ?? {}) } as CompletionOptions;
    o.stop = [...(o.stop ?? [])];
    o.attributes = { ...(o.attributes ?? {}) };
    checkOptions(o);
    return o;
  }

  private documentBytes(req: CompletionRequest): { prefix: Uint8Array; suffix: Uint8Array } {
    const name = req.fileName ?? 'the document';
    if (typeof req.prefix !== 'string' || typeof req.suffix !== 'string') throw new TrellisError('a completion request needs prefix and suffix strings', 'bad_request');
    // Cheap pre-check before encoding: a UTF-16 unit is at least one UTF-8 byte.
    if (req.prefix.length + req.suffix.length > MAX_DOCUMENT_BYTES) this.tooLarge(name, req.prefix.length + req.suffix.length);
    if (req.prefix.includes('\0') || req.suffix.includes('\0')) {
      throw new TrellisError(`${name} contains NUL bytes (a binary file?); Trellis completes text files only`, 'document_binary', req.fileName);
    }
    const prefix = utf8Encode(req.prefix);
    const suffix = utf8Encode(req.suffix);
    if (prefix.length + suffix.length > MAX_DOCUMENT_BYTES) this.tooLarge(name, prefix.length + suffix.length);
    return { prefix, suffix };
  }

  private tooLarge(name: string, size: number): never {
    throw new TrellisError(`${name} is too large for completion (${size} bytes > ${MAX_DOCUMENT_BYTES}); split the file or complete in a smaller one`, 'document_too_large');
  }

  private endTokens(fim: boolean): Map<number, StopReason> {
    const l = this.loaded;
    const ends = new Map<number, StopReason>();
    // Without a FIM template the EOS token ends a file, not a middle.
    for (const id of l.eosIds) ends.set(id, fim ? 'fim_end' : 'eos');
    if (fim && l.fim?.end !== undefined) ends.set(l.fim.end, 'fim_end');
    return ends;
  }

  private async prepare(req: CompletionRequest, options: CompletionOptions, prefixAll: Uint8Array, suffix: Uint8Array, started: number, signal?: AbortSignal): Promise<Prepared> {
    const l = this.loaded;
    const tok = l.tokenizer;
    const healer = options.healing !== 'off' ? (this.plugins.healer?.(options.healing, tok) ?? null) : null;
    const tailLen = healer ? Math.max(0, Math.min(prefixAll.length, healer.tailLength(prefixAll))) : 0;
    const prefix = prefixAll.subarray(0, prefixAll.length - tailLen);
    const tail = prefixAll.subarray(prefixAll.length - tailLen);
    const reserve = options.maxTokens + 1 + (tailLen > 0 ? 8 : 0);
    const budget = Math.min(options.contextTokens, l.geometry.contextLength - reserve);
    if (budget < 8) {
      throw new TrellisError(`maxTokens ${options.maxTokens} leaves no room for a prompt in the model's context of ${l.geometry.contextLength} tokens; lower maxTokens`, 'bad_request');
    }
    const spec = modelPromptSpec(l, options.layout);
    const prompt = buildPrompt(spec, prefix, suffix, { maxTokens: budget });
    const ctx: RequestContext = { request: req, options, prefix, suffix, tail, prompt, tokenizer: tok, model: l.model, endTokens: this.endTokens(spec.fim !== null), signal };
    const hasAttrs = Object.values(options.attributes).some((w) => w !== 0);
    if (hasAttrs && !this.plugins.steering) {
      throw new TrellisError('attribute weights need a GeDi discriminator: load the engine with gediDir (CLI: --gedi DIR, default models/trellis-gedi-tiny)', 'bad_request');
    }
    let grammar: GrammarSession | null = null;
    let steering: SteeringSession | null = null;
    const cache = l.model.newCache();
    let logits: Float32Array;
    try {
      grammar = options.grammar !== 'off' ? ((await this.plugins.grammar?.(ctx)) ?? null) : null;
      steering = hasAttrs ? ((await this.plugins.steering?.(ctx)) ?? null) : null;
      [logits] = (await l.model.forward([{ ids: prompt.ids, cache }])) as [Float32Array];
    } catch (e) {
      cache.dispose();
      grammar?.dispose();
      steering?.dispose();
      throw e;
    }
    const respelledChars = tailLen > 0 ? req.prefix.length - utf8ToUtf16Offset(req.prefix, prefix.length) : 0;
    return { ctx, cache, logits, healer, grammar, steering, respelledChars, modelCalls: 1, started };
  }

  private async candidate(prep: Prepared, index: number, signal?: AbortSignal): Promise<CompletionResult> {
    const { ctx, healer, grammar, steering } = prep;
    const l = this.loaded;
    const o = ctx.options;
    const rng = new Xoshiro128(o.seed, index);
    const cache = prep.cache.fork();
    let modelCalls = index === 0 ? prep.modelCalls : 0;
    let covers = 0;
    let forced: DecodeInput['forced'];
    const selector = grammar?.newSelector(index);
    if (healer && ctx.tail.length > 0) {
      if (signal?.aborted) {
        cache.dispose();
        selector?.dispose?.();
        return this.abortedResult(prep.started);
      }
      let heal: HealResult;
      try {
        heal = await healer.heal({
          model: l.model,
          tokenizer: l.tokenizer,
          cache,
          promptIds: ctx.prompt.ids,
          lastLogits: prep.logits,
          tail: ctx.tail,
          sampling: samplingTools(o, rng),
          matcher: grammar?.matcher,
          signal,
        });
      } catch (e) {
        cache.dispose();
        selector?.dispose?.();
        // Healers throw TrellisError('aborted') between their passes.
        if (e instanceof TrellisError && e.code === 'aborted') return this.abortedResult(prep.started);
        throw e;
      }
      modelCalls += heal.modelCalls;
      covers += heal.covers;
      forced = { ids: heal.forcedIds, state: heal.state, minBytes: ctx.tail.length };
    }
    let out: DecodeOutput;
    try {
      out = await decode({
        model: l.model,
        tokenizer: l.tokenizer,
        cache,
        logits: prep.logits,
        params: o,
        rng,
        endTokens: ctx.endTokens,
        banned: l.bannedIds,
        minNewTokens: o.minTokens ?? 0,
        forced,
        hooks: {
          selector,
          processors: steering ? await steering.newProcessors(index) : undefined,
          stopChecks: grammar?.stopChecks?.(),
        },
        signal,
        startedAt: prep.started,
      });
    } finally {
      selector?.dispose?.();
    }
    out.cache.dispose();
    if (out.cache !== cache) cache.dispose();
    modelCalls += out.modelCalls;
    return this.result(out, prep, modelCalls, covers, healer?.mode ?? 'off');
  }

  private result(out: DecodeOutput, prep: Prepared, modelCalls: number, covers: number, healing: HealingMode): CompletionResult {
    // A completion cut inside a character (max tokens, abort) drops the partial character.
    const bytes = out.bytes.subarray(0, out.bytes.length - incompleteUtf8Tail(out.bytes));
    const generated = out.tokens.length;
    const decodeMs = out.totalMs - out.firstTokenMs;
    return {
      text: utf8Decode(bytes),
      respelledChars: prep.respelledChars,
      stopReason: out.stopReason,
      timings: {
        firstTokenMs: out.firstTokenMs,
        totalMs: out.totalMs,
        tokensPerSecond: generated > 1 && decodeMs > 0 ? ((generated - 1) * 1000) / decodeMs : 0,
      },
      stats: {
        promptTokens: prep.ctx.prompt.ids.length,
        generatedTokens: generated,
        modelCalls,
        maskedSteps: out.maskedSteps,
        healing,
        healingCovers: covers,
        suffixCheck: out.suffixCheck,
        endRepair: out.endRepair,
        graceTokens: out.graceTokens,
      },
    };
  }

  private abortedResult(started: number): CompletionResult {
    const ms = performance.now() - started;
    return {
      text: '',
      respelledChars: 0,
      stopReason: 'aborted',
      timings: { firstTokenMs: ms, totalMs: ms, tokensPerSecond: 0 },
      stats: { promptTokens: 0, generatedTokens: 0, modelCalls: 0, maskedSteps: 0, healing: 'off', healingCovers: 0, suffixCheck: 'none' },
    };
  }
}
