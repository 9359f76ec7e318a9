// The steering manifest `trellis-attributes.json` of a GeDi model folder (owns: its format and
// validation). Written by tools/train/gedi_export.py; attributes, control codes, default weights
// and the GeDi constants are discovered from it, so the sidebar builds its sliders from it.
import type { AttributeInfo } from '../api';
import { TrellisError } from '../api';

/** One steerable attribute with the discriminator's learned constants. */
export interface SteeringAttribute extends AttributeInfo {
  /** Language of the labeller that defined the attribute (informational). */
  language: string;
  /** α: scale of the length-normalised log-likelihood difference (learned). */
  alpha: number;
  /** b: class bias added to the c+ logit (learned; the training prior). */
  classBias: number;
}

export interface SteeringManifest {
  /** W: the posterior sums over the last W tokens (the candidate included). */
  window: number;
  /** Prompt tokens before the cursor the discriminator sees (as in training). */
  contextTokens: number;
  /** Filtering heuristic: keep the top-ρ mass of the steered distribution… */
  rho: number;
  /** …plus every token whose on-class posterior exceeds τ. */
  tau: number;
  /**
   * Steer only inside the base model's nucleus: tokens outside the smallest set holding this mass
   * of the base distribution (T = 1) are filtered before the weights apply (1 = off, the default).
   */
  baseTopP: number;
  attributes: SteeringAttribute[];
}

function fail(file: string, what: string): never {
  throw new TrellisError(`${file}: ${what}; re-export the GeDi model with tools/train/gedi_export.py`, 'model_corrupt', file);
}

function num(o: Record<string, unknown>, k: string, file: string, where: string, check: (v: number) => boolean): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) fail(file, `${where}.${k} must be a valid number (got ${JSON.stringify(v)})`);
  return v;
}

function str(o: Record<string, unknown>, k: string, file: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') fail(file, `${where}.${k} must be a non-empty string`);
  return v;
}

/** Validates the parsed JSON of a manifest; `file` names it in errors. */
export function parseManifest(json: unknown, file: string): SteeringManifest {
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail(file, 'must hold a JSON object');
  const m = json as Record<string, unknown>;
  const window = num(m, 'window', file, 'manifest', (v) => Number.isInteger(v) && v >= 1);
  const contextTokens = num(m, 'contextTokens', file, 'manifest', (v) => Number.isInteger(v) && v >= 0);
  const filter = (m.filter ?? { rho: 0.2, tau: 0.8 }) as Record<string, unknown>;
  const rho = num(filter, 'rho', file, 'filter', (v) => v >= 0 && v <= 1);
  const tau = num(filter, 'tau', file, 'filter', (v) => v >= 0 && v <= 1);
  const baseTopP = filter.baseTopP === undefined ? 1 : num(filter, 'baseTopP', file, 'filter', (v) => v > 0 && v <= 1);
  if (!Array.isArray(m.attributes) || m.attributes.length === 0) fail(file, 'attributes must be a non-empty list');
  const seen = new Set<string>();
  const attributes = m.attributes.map((a: unknown, i: number): SteeringAttribute => {
    if (!a || typeof a !== 'object') fail(file, `attributes[${i}] must be an object`);
    const o = a as Record<string, unknown>;
    const where = `attributes[${i}]`;
    const name = str(o, 'name', file, where);
    if (seen.has(name)) fail(file, `attribute '${name}' is listed twice`);
    seen.add(name);
    const maxWeight = num(o, 'maxWeight', file, where, (v) => v > 0);
    return {
      name,
      description: typeof o.description === 'string' ? o.description : name,
      positiveCode: str(o, 'positiveCode', file, where),
      negativeCode: str(o, 'negativeCode', file, where),
      defaultWeight: num(o, 'defaultWeight', file, where, (v) => Math.abs(v) <= maxWeight),
      maxWeight,
      language: typeof o.language === 'string' ? o.language : 'python',
      alpha: num(o, 'alpha', file, where, (v) => v > 0),
      classBias: num(o, 'classBias', file, where, () => true),
    };
  });
  return { window, contextTokens, rho, tau, baseTopP, attributes };
}
