// Loads a GeDi model folder (owns: the steering model's files, checks against the base model's
// tokenizer, and the per-request steering session). The folder is a normal model folder
// (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx) plus the manifest
// trellis-attributes.json; the runtime's folder loader opens the graph.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AttributeInfo } from '../api';
import { TrellisError } from '../api';
import type { LanguageModel, LogitsProcessor, TokenizerLike } from '../interfaces';
import { ThreadLanguageModel, modelThreadScript } from '../runtime/threadModel';
import { loadModelFolder } from '../runtime/modelFolder';
import { loadTokenizerFile } from '../runtime/tokenizerLoader';
import { GediProcessor, prefillGedi, type ActiveAttribute, type GediPrefill, type GediSettings } from './gedi';
import { parseManifest, type SteeringManifest } from './manifest';

export const MANIFEST_FILE = 'trellis-attributes.json';

/** Per-request steering: processors for each candidate, sharing one discriminator prefill. */
export class GediSession {
  private prefill: Promise<GediPrefill> | null = null;
  private readonly processors: GediProcessor[] = [];

  constructor(
    private readonly lm: LanguageModel,
    readonly active: readonly ActiveAttribute[],
    private readonly settings: GediSettings,
    private readonly contextIds: readonly number[],
    private readonly neutral?: Uint8Array,
  ) {}

  /** A processor for candidate `index` (own caches, forked from the shared prefill). */
  async newProcessors(_index: number): Promise<LogitsProcessor[]> {
    this.prefill ??= prefillGedi(this.lm, this.active, this.contextIds);
    const p = new GediProcessor(this.lm, this.active, this.settings, await this.prefill, this.neutral);
    this.processors.push(p);
    return [p];
  }

  /** Discriminator forward passes so far, over all candidates (prefill included). */
  get forwardCalls(): number {
    return (this.prefill ? 1 : 0) + this.processors.reduce((s, p) => s + p.forwardCalls, 0);
  }

  dispose(): void {
    for (const p of this.processors) p.dispose();
    this.processors.length = 0;
    const pf = this.prefill;
    this.prefill = null;
    void pf?.then((x) => x.caches.forEach((c) => c.dispose()), () => undefined);
  }
}

/** A loaded discriminator: the attributes it knows and a factory of steering sessions. */
export class SteeringModel {
  private constructor(
    readonly directory: string,
    readonly manifest: SteeringManifest,
    readonly lm: LanguageModel,
    readonly tokenizer: TokenizerLike,
    private readonly codeIds: ReadonlyMap<string, { pos: number; neg: number }>,
  ) {
    this.neutral = new Uint8Array(lm.vocabSize);
    for (let id = 0; id < Math.min(lm.vocabSize, tokenizer.vocabSize); id++) if (tokenizer.isSpecial(id)) this.neutral[id] = 1;
  }

  /** Special tokens: the discriminator leaves their class evidence neutral. */
  private readonly neutral: Uint8Array;

  /**
   * Loads `dir`. With `baseTokenizer`, checks that the discriminator shares the base model's
   * vocabulary token for token (GeDi scores the base model's candidates by id).
   */
  static async load(dir: string, opts: { baseTokenizer?: TokenizerLike; threads?: number; signal?: AbortSignal; ownThread?: boolean } = {}): Promise<SteeringModel> {
    const abs = path.resolve(dir);
    const manifestFile = path.join(abs, MANIFEST_FILE);
    if (!fs.existsSync(manifestFile)) {
      throw new TrellisError(
        `${manifestFile} not found: a GeDi folder needs its steering manifest next to config.json; pass the folder exported by tools/train/gedi_export.py (models/trellis-gedi-tiny)`,
        'model_missing_file',
        manifestFile,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    } catch (e) {
      throw new TrellisError(`${manifestFile} is not valid JSON (${(e as Error).message}); re-export the GeDi model`, 'model_corrupt', manifestFile);
    }
    const manifest = parseManifest(json, manifestFile);
    const loaded = await loadModelFolder(abs, { loadTokenizer: loadTokenizerFile, threads: opts.threads ?? 1, signal: opts.signal });
    try {
      const tok = loaded.tokenizer;
      const codeIds = new Map<string, { pos: number; neg: number }>();
      for (const a of manifest.attributes) {
        const pos = tok.specialTokenId(a.positiveCode);
        const neg = tok.specialTokenId(a.negativeCode);
        if (pos === undefined || neg === undefined) {
          throw new TrellisError(
            `${manifestFile}: control code ${pos === undefined ? a.positiveCode : a.negativeCode} of attribute '${a.name}' is not a special token of ${path.join(abs, 'tokenizer.json')}; the manifest does not belong to this tokenizer — re-export the GeDi model`,
            'model_mismatch',
            manifestFile,
          );
        }
        codeIds.set(a.name, { pos, neg });
      }
      if (opts.baseTokenizer) checkSameVocabulary(opts.baseTokenizer, tok, path.join(abs, 'tokenizer.json'));
      // On its own thread (ownThread, default on where the bundled model-thread script exists) the
      // discriminator's forward pass overlaps the base model's: onnxruntime-node's run() blocks
      // the thread that calls it. The session checked above is then closed.
      const script = opts.ownThread === false ? null : modelThreadScript();
      if (script) {
        const lm = await ThreadLanguageModel.start(script, { onnxFile: loaded.onnxFile, geometry: loaded.geometry, threads: opts.threads ?? 1 });
        loaded.model.dispose();
        return new SteeringModel(abs, manifest, lm, tok, codeIds);
      }
      return new SteeringModel(abs, manifest, loaded.model, tok, codeIds);
    } catch (e) {
      loaded.model.dispose();
      throw e;
    }
  }

  /** The sliders: every attribute of the manifest (ModelInfo.attributes). */
  attributes(): AttributeInfo[] {
    return this.manifest.attributes.map(({ name, description, positiveCode, negativeCode, defaultWeight, maxWeight }) => ({
      name,
      description,
      positiveCode,
      negativeCode,
      defaultWeight,
      maxWeight,
    }));
  }

  /**
   * The steering session for one request, or null when every weight is 0 (then decoding is
   * exactly unsteered: no processor runs). `prefixBytes`: the text before the cursor.
   * Unknown attribute names are an error naming the manifest and the known names.
   */
  session(weights: Readonly<Record<string, number>>, prefixBytes: Uint8Array, tokenizer: TokenizerLike = this.tokenizer): GediSession | null {
    const active: ActiveAttribute[] = [];
    for (const [name, weight] of Object.entries(weights)) {
      const a = this.manifest.attributes.find((x) => x.name === name);
      if (!a) {
        throw new TrellisError(
          `unknown attribute '${name}': the GeDi model ${this.directory} steers ${this.manifest.attributes.map((x) => x.name).join(', ')} (see ${MANIFEST_FILE})`,
          'bad_request',
        );
      }
      if (!Number.isFinite(weight)) throw new TrellisError(`attribute weight ${name} must be a finite number (got ${weight})`, 'bad_request');
      if (weight === 0) continue;
      const ids = this.codeIds.get(name)!;
      active.push({ name, weight, positiveId: ids.pos, negativeId: ids.neg, alpha: a.alpha, classBias: a.classBias });
    }
    if (active.length === 0) return null;
    const { window, rho, tau, baseTopP, contextTokens } = this.manifest;
    return new GediSession(this.lm, active, { window, rho, tau, baseTopP, contextTokens }, contextTail(tokenizer, prefixBytes, contextTokens), this.neutral);
  }

  dispose(): void {
    this.lm.dispose();
  }
}

/** The last `n` tokens before the cursor, encoded from a pre-tokenizer boundary (as the prompt is). */
export function contextTail(tok: TokenizerLike, prefix: Uint8Array, n: number): number[] {
  if (n <= 0 || prefix.length === 0) return [];
  const from = Math.max(0, prefix.length - 8 * n - 64);
  const window = prefix.subarray(from);
  // Start at a chunk boundary so the encoding equals the whole prefix's encoding there.
  const bounds = tok.preTokenizeBoundaries(window);
  const start = from === 0 ? 0 : (bounds[1] ?? 0);
  const ids = tok.encodeBytes(window.subarray(start));
  return ids.slice(Math.max(0, ids.length - n));
}

function checkSameVocabulary(base: TokenizerLike, gedi: TokenizerLike, file: string): void {
  const fix = `the GeDi model must share the base model's tokenizer; use the discriminator trained for this model (tools/train/gedi_train.py) or turn steering off`;
  if (base.vocabSize !== gedi.vocabSize) {
    throw new TrellisError(`${file} has ${gedi.vocabSize} tokens but the base model's tokenizer has ${base.vocabSize}; ${fix}`, 'model_mismatch', file);
  }
  for (let id = 0; id < base.vocabSize; id++) {
    const a = base.tokenBytes(id);
    const b = gedi.tokenBytes(id);
    if (a.length !== b.length || a.some((x, i) => x !== b[i]) || base.isSpecial(id) !== gedi.isSpecial(id)) {
      throw new TrellisError(`${file}: token ${id} differs from the base model's tokenizer; ${fix}`, 'model_mismatch', file);
    }
  }
}
