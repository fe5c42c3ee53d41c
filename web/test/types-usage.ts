// Compiled (not run) by types.test.mjs: the declarations in index.d.ts type a typical use.
import { TensorScorer, loadPackage, PackageError, RecordError, type Prediction, type ScoreResult } from 'edgepack-web';

export async function example(): Promise<string> {
  try {
    const scorer = await loadPackage('/package/', { backend: 'auto', wasmPaths: { ort: '/vendor/onnxruntime-web/dist/' } });
    const predictions: Prediction[] = await scorer.predict([{ tenure_months: 3, contract: 'month-to-month', total_charges: null }]);
    const first = predictions[0];
    const scored: ScoreResult = await scorer.score([{ x: NaN }], { allowedExtra: new Set(['id']) });
    const test = await scorer.selftest();
    await scorer.dispose();
    return 'label' in first ? `${String(first.label)} ${scored.rejections.length} ${test.passed}` : `${first.value}`;
  } catch (err) {
    if (err instanceof RecordError) return `${err.field}: ${err.reason}`;
    if (err instanceof PackageError) return `${err.what} (${err.fix ?? ''}) exit ${err.exitCode}`;
    throw err;
  }
}

export async function pictures(canvas: HTMLCanvasElement, file: File): Promise<string> {
  const scorer = await loadPackage<TensorScorer>('/package/', { backend: 'ort-wasm' });
  const [row] = await scorer.scorePictures([canvas, file]);
  const raw = await scorer.predict({ image: { data: new Float32Array(64), shape: [1, 8, 8, 1] } });
  const { predictions } = await scorer.score([{ image: [[[0]]] }]);
  await scorer.dispose();
  return `${String(row.label)} ${row.top_k?.[0].probability} ${raw.probabilities.dims.join('x')} ${predictions.length}`;
}
