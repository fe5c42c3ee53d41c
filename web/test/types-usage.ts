// Compiled (not run) by types.test.mjs: the declarations in index.d.ts type a typical use.
import { loadPackage, PackageError, RecordError, type Prediction, type ScoreResult } from 'edgepack-web';

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
