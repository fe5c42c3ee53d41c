// edgepack-score's line contract for web/bin/score.mjs, byte for byte (runtime/output.py, runtime/jsonlines.py
// with orjson, the `fast` extra):
//   prediction  {"id": I, "<kept>": V, "label": L, "probabilities": {"<class>": p, ...}, "package": N, "version": V}
//               {"value": v, "package": N, "version": V}                 (stdout, ", " and ": " separators)
//   rejection   {"line":7,"field":"tenure_months","reason":"..."}          (stderr or --errors FILE, compact)
// Numbers as orjson writes them: the shortest text that reads back the same value (float32 outputs at float32
// precision), fixed notation for exponents -5..15 (float32: -6..12) with ".0" on whole numbers, else 1.5e-7 / 1e+16.

/** Python's (orjson's) text of a finite number; `f32`: the value is a float32 (probabilities). */
export function numberText(x, f32 = false) {
  if (!Number.isFinite(x)) return 'null';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  let digits;
  if (f32) { // the fewest significant digits that read back as the same float32
    for (let p = 1; p <= 9; p += 1) {
      const text = halfEven(x, p);
      if (Math.fround(Number(text)) === x) { digits = Number(text).toExponential(); break; }
    }
  }
  digits ??= x.toExponential(); // JavaScript's shortest round-trip digits of a double
  const [mantissa, exp] = digits.split('e');
  const e = Number(exp);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const ds = mantissa.replace('-', '').replace('.', '');
  if (f32 ? e < -6 || e >= 13 : e < -5 || e >= 16) return `${sign}${ds[0]}${ds.length > 1 ? `.${ds.slice(1)}` : ''}e${e < 0 ? '-' : '+'}${Math.abs(e)}`;
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${ds}`;
  const whole = ds.slice(0, e + 1).padEnd(e + 1, '0');
  const frac = ds.slice(e + 1);
  return `${sign}${whole}.${frac || '0'}`;
}

/** `x` to `p` significant digits, a tie rounded to even as ryu (orjson) does; toPrecision rounds it up. */
function halfEven(x, p) {
  const up = x.toPrecision(p);
  const [m, e] = Math.abs(x).toExponential(60).split('e');
  const ds = m.replace('.', '');
  if (!/^50*$/.test(ds.slice(p)) || Number(ds[p - 1]) % 2 !== 0) return up; // not a tie, or an odd digit: up
  const down = `${x < 0 ? '-' : ''}${ds[0]}${p > 1 ? `.${ds.slice(1, p)}` : ''}e${e}`;
  return Math.fround(Number(down)) === x ? down : up;
}

/** A value copied from the record (id, --keep-fields): compact JSON, numbers as Python writes them. */
function valueText(v) {
  if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) < 2 ** 63 && !String(v).includes('.') ? String(v) : numberText(v);
  return JSON.stringify(v ?? null);
}

/** One prediction line (newline-terminated). `carried`: [[name, value], ...], the id first. */
export function predictionLine(prediction, stamp, carried) {
  const parts = carried.map(([k, v]) => `${JSON.stringify(k)}: ${valueText(v)}`);
  if ('probabilities' in prediction) {
    const probs = Object.entries(prediction.probabilities)
      .map(([k, p]) => `${JSON.stringify(k)}: ${numberText(p, Math.fround(p) === p)}`);
    parts.push(`"label": ${valueText(prediction.label)}`, `"probabilities": {${probs.join(', ')}}`);
  } else {
    parts.push(`"value": ${numberText(prediction.value)}`);
  }
  parts.push(`"package": ${JSON.stringify(stamp.package)}`, `"version": ${JSON.stringify(stamp.version)}`);
  return `{${parts.join(', ')}}\n`;
}

/** One rejection line (newline-terminated), compact as orjson writes it; "id" last when the record has one. */
export function rejectionLine(line, field, reason, id = null) {
  const head = JSON.stringify({ line, field: field ?? null, reason }).slice(0, -1);
  return `${head}${id === null || id === undefined ? '' : `,"id":${valueText(id)}`}}\n`;
}

/** Python's str() of a float (repr: shortest digits, exponent below 1e-4 or from 1e16, two exponent digits). */
export function pyRepr(x) {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  const [mantissa, exp] = x.toExponential().split('e');
  const e = Number(exp);
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return String(x);
}

/** Python's `f"{x:.{p}g}"`. */
export function pyG(x, p) {
  if (x === 0) return '0';
  const [mantissa, exp] = x.toExponential(p - 1).split('e');
  const e = Number(exp);
  const strip = (s) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (e < -4 || e >= p) return `${strip(mantissa)}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return strip(x.toFixed(Math.max(0, p - 1 - e)));
}

/** runtime/table.py's render_table: numbers right-aligned (%.4g, %.3g below 1e-3), text left-aligned. */
export function renderTable(headers, rows, title) {
  const isNumber = (v) => typeof v === 'number' || v === null;
  const cell = (v) => {
    if (v === null) return '-';
    if (typeof v === 'number' && !Number.isInteger(v)) return v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6) ? pyG(v, 3) : pyG(v, 4);
    return String(v);
  };
  const cells = rows.map((r) => r.map(cell));
  const numeric = headers.map((_, j) => rows.length > 0 && rows.every((r) => isNumber(r[j])));
  const widths = headers.map((h, j) => Math.max(h.length, ...cells.map((r) => r[j].length)));
  const line = (values) => values.map((v, j) => (numeric[j] ? v.padStart(widths[j]) : v.padEnd(widths[j]))).join('  ').trimEnd();
  return [...(title ? [title] : []), line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
