// Test helpers for the runtime tests: where the real default model lives, and comparisons.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The default model folder (models/trellis-code-tiny), or TRELLIS_TEST_MODEL. */
export const MODEL_DIR = process.env.TRELLIS_TEST_MODEL ?? path.resolve(__dirname, '../../../models/trellis-code-tiny');

/** True when the model folder has an ONNX graph (the export may be in progress). */
export function modelAvailable(): boolean {
  return fs.existsSync(path.join(MODEL_DIR, 'onnx', 'model.onnx')) && fs.existsSync(path.join(MODEL_DIR, 'config.json'));
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
