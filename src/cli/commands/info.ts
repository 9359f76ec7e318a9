// `trellis info [--model DIR] [--json]`: what the model folder holds (ModelInfo).
import { Engine } from '../../engine/engine';
import type { Command } from '../command';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultGediDir, defaultModelDir, parseFlags } from './completion-args';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show the model: vocabulary, context, FIM tokens, attributes, languages',
  usage: `Usage: trellis info [--model DIR] [--gedi DIR] [--json]

Attributes come from the GeDi discriminator (--gedi, default models/trellis-gedi-tiny when present).`,
  async run(argv) {
    const { values } = parseFlags({ args: argv, options: { model: { type: 'string' }, gedi: { type: 'string' }, json: { type: 'boolean' } } });
    const shipped = defaultGediDir();
    const gediDir = values.gedi ?? (fs.existsSync(path.join(shipped, 'onnx', 'model.onnx')) ? shipped : undefined);
    const modelDir = values.model ?? defaultModelDir();
    let gediNote = '';
    let engine: Engine;
    try {
      engine = await Engine.load(modelDir, { gediDir });
    } catch (e) {
      // The shipped discriminator is optional: a broken one must not hide the base model's info.
      if (values.gedi || !gediDir) throw e;
      gediNote = ` (GeDi model not loaded: ${(e as Error).message})`;
      engine = await Engine.load(modelDir);
    }
    try {
      const info = engine.info();
      if (values.json) {
        console.log(JSON.stringify(info));
        return 0;
      }
      const m = engine.model;
      const lines = [
        `model:      ${info.name}`,
        `directory:  ${info.directory}`,
        `graph:      ${m.onnxFile} (${m.geometry.layers} layers, ${m.geometry.kvHeads} kv heads × ${m.geometry.headDim})`,
        `vocabulary: ${info.vocabSize} tokens (logits ${m.geometry.vocabSize})`,
        `context:    ${info.contextLength} tokens`,
        `fim:        ${info.fimTokens ? `${info.fimTokens.prefix} ${info.fimTokens.suffix} ${info.fimTokens.middle} end ${info.fimTokens.end ?? '-'} (${m.fimOrder.toUpperCase()})` : 'none (left-to-right prompts only)'}`,
        `languages:  ${info.languages.join(', ')}`,
        `attributes: ${info.attributes.length ? info.attributes.map((a) => `${a.name} (${a.positiveCode}/${a.negativeCode})`).join(', ') : 'none'}${gediNote}`,
      ];
      console.log(lines.join('\n'));
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};
