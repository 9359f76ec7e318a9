// GeDi attribute steering (H8): the public surface of src/engine/steering/ and its engine plugin.
// `loadSteeringModel(dir)` opens a discriminator folder; `steeringPlugins(model)` plugs it into
// the Engine (EnginePlugins.steering / .attributes), so `engine.info().attributes` lists the
// sliders and `options.attributes` ({ documented: 2, safe: -3 }) steers a request.
import type { AttributeInfo } from '../api';
import type { EnginePlugins, RequestContext, SteeringSession } from '../engine';
import type { TokenizerLike } from '../interfaces';
import { SteeringModel } from './load';

export { SteeringModel, GediSession, MANIFEST_FILE, contextTail } from './load';
export { GediProcessor, applyGedi, classLogit, logSigmoid, logSoftmax, prefillGedi, FILTERED_PENALTY } from './gedi';
export type { ActiveAttribute, AttributeStep, GediPrefill, GediSettings } from './gedi';
export { parseManifest } from './manifest';
export type { SteeringAttribute, SteeringManifest } from './manifest';

/** Opens a GeDi model folder; `baseTokenizer` (recommended) must be the base model's tokenizer. */
export function loadSteeringModel(dir: string, opts: { baseTokenizer?: TokenizerLike; threads?: number; signal?: AbortSignal } = {}): Promise<SteeringModel> {
  return SteeringModel.load(dir, opts);
}

/** The engine seams for a loaded discriminator (merge into the other plugins). */
export function steeringPlugins(model: SteeringModel): Required<Pick<EnginePlugins, 'steering' | 'attributes' | 'dispose'>> {
  return {
    steering(ctx: RequestContext): SteeringSession | null {
      return model.session(ctx.options.attributes, ctx.prefix, ctx.tokenizer);
    },
    attributes(): AttributeInfo[] {
      return model.attributes();
    },
    dispose(): void {
      model.dispose();
    },
  };
}
