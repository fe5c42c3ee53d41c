// JSON lines as Python's json module reads them: NaN, Infinity and -Infinity are accepted as numbers,
// so that the Node CLI validates the same records the Python scorer does (NaN = missing, infinity refused).

const SPECIAL = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
const MARK = '\u0000edgepack:';

/** Parse one JSON text; NaN/Infinity/-Infinity outside strings become numbers. Throws SyntaxError. */
export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
  }
  // Replace the bare tokens (outside string literals) with marked strings, then revive them.
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find((t) => text.startsWith(t, i));
    if (token) {
      out += JSON.stringify(MARK + token);
      i += token.length - 1;
    } else {
      out += ch;
    }
  }
  return JSON.parse(out, (_key, value) => (typeof value === 'string' && value.startsWith(MARK) ? SPECIAL[value.slice(MARK.length)] : value));
}
