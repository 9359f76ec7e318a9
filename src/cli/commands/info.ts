// `trellis info [--model DIR] [--json]`: what the model folder holds (ModelInfo).
import { Engine } from '../../engine/engine';
import type { Command } from '../command';
import { defaultModelDir, parseFlags } from './completion-args';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show the model: vocabulary, context, FIM tokens, attributes, languages',
  usage: `Usage: trellis info [--model DIR] [--json]`,
  async run(argv) {
    const { values } = parseFlags({ args: argv, options: { model: { type: 'string' }, json: { type: 'boolean' } } });
    const engine = await Engine.load(values.model ?? defaultModelDir());
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
        `attributes: ${info.attributes.length ? info.attributes.map((a) => `${a.name} (${a.positiveCode}/${a.negativeCode})`).join(', ') : 'none'}`,
      ];
      console.log(lines.join('\n'));
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};
