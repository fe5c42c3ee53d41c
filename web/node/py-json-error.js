// The reason Python's json module (CPython's C scanner, as edgepack-score runs it) gives for a line that is
// not JSON, e.g. "Expecting ',' delimiter: line 1 column 9 (char 8)": Node's JSON.parse words it otherwise,
// and the two scorers' error lines must be the same bytes. Called only after JSON.parse has refused a line,
// so it walks the text as json.loads does and stops at the first error; positions count code points, as
// Python's str does. (runtime/jsonlines.py parses; this only explains.)

const WS = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX = /^[0-9a-fA-F]$/;
const CONSTANTS = ['null', 'true', 'false', 'NaN', 'Infinity', '-Infinity'];

class Fail extends Error {
  constructor(msg, pos) { super(msg); this.pos = pos; }
}
class Stop extends Error { // StopIteration(idx): no value starts here ("Expecting value")
  constructor(pos) { super('stop'); this.pos = pos; }
}

/** Python's JSONDecodeError text for `text` (a line already refused by JSON.parse), or null if it parses. */
export function pythonJsonError(text) {
  const s = Array.from(text); // code points, as Python indexes a str
  let pos;
  let msg;
  try {
    let i = skip(s, 0);
    try {
      i = value(s, i);
    } catch (err) {
      if (err instanceof Stop) throw new Fail('Expecting value', err.pos);
      throw err;
    }
    i = skip(s, i);
    if (i !== s.length) throw new Fail('Extra data', i);
    return null;
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    ({ pos, message: msg } = err);
  }
  let lineno = 1;
  let lastNl = -1;
  for (let k = 0; k < pos; k++) if (s[k] === '\n') { lineno += 1; lastNl = k; }
  return `${msg}: line ${lineno} column ${pos - lastNl} (char ${pos})`;
}

function skip(s, i) {
  while (i < s.length && WS.has(s[i])) i++;
  return i;
}

function value(s, i) {
  if (i >= s.length) throw new Stop(i);
  const c = s[i];
  if (c === '"') return string(s, i + 1);
  if (c === '{') return object(s, i + 1);
  if (c === '[') return array(s, i + 1);
  for (const k of CONSTANTS) if (startsWith(s, i, k)) return i + k.length;
  return number(s, i);
}

function startsWith(s, i, word) {
  for (let k = 0; k < word.length; k++) if (s[i + k] !== word[k]) return false;
  return true;
}

const digit = (c) => c !== undefined && c >= '0' && c <= '9';

function number(s, start) {
  let i = start;
  if (s[i] === '-') i++;
  if (s[i] >= '1' && s[i] <= '9') { while (digit(s[i])) i++; } else if (s[i] === '0') i++;
  else throw new Stop(start);
  if (s[i] === '.' && digit(s[i + 1])) { i += 2; while (digit(s[i])) i++; }
  if (s[i] === 'e' || s[i] === 'E') {
    const e = i;
    i++;
    if (s[i] === '+' || s[i] === '-') i++;
    if (digit(s[i])) { while (digit(s[i])) i++; } else i = e;
  }
  return i;
}

function string(s, end) {
  const begin = end - 1;
  for (;;) {
    let next = end;
    while (next < s.length && s[next] !== '"' && s[next] !== '\\') {
      if (s[next].codePointAt(0) <= 0x1f) throw new Fail('Invalid control character at', next);
      next++;
    }
    if (next >= s.length) throw new Fail('Unterminated string starting at', begin);
    if (s[next] === '"') return next + 1;
    next++; // the backslash
    if (next >= s.length) throw new Fail('Unterminated string starting at', begin);
    if (s[next] !== 'u') {
      end = next + 1;
      if (!ESCAPES.has(s[next])) throw new Fail('Invalid \\escape', end - 2);
      continue;
    }
    next++;
    end = next + 4;
    if (end >= s.length) throw new Fail('Invalid \\uXXXX escape', next - 1);
    let c = 0;
    for (; next < end; next++) {
      if (!HEX.test(s[next])) throw new Fail('Invalid \\uXXXX escape', end - 5);
      c = (c << 4) | parseInt(s[next], 16);
    }
    if (c >= 0xd800 && c <= 0xdbff && end + 6 < s.length && s[next] === '\\' && s[next + 1] === 'u') {
      next += 2;
      end += 6;
      for (; next < end; next++) {
        if (!HEX.test(s[next])) throw new Fail('Invalid \\uXXXX escape', end - 5);
      }
    }
  }
}

function object(s, i) {
  i = skip(s, i);
  if (s[i] === '}') return i + 1;
  for (;;) {
    if (s[i] !== '"') throw new Fail('Expecting property name enclosed in double quotes', i);
    i = skip(s, string(s, i + 1));
    if (s[i] !== ':') throw new Fail("Expecting ':' delimiter", i);
    i = skip(s, value(s, skip(s, i + 1)));
    if (s[i] === '}') return i + 1;
    if (s[i] !== ',') throw new Fail("Expecting ',' delimiter", i);
    i = skip(s, i + 1);
  }
}

function array(s, i) {
  i = skip(s, i);
  if (s[i] === ']') return i + 1;
  for (;;) {
    i = skip(s, value(s, i));
    if (s[i] === ']') return i + 1;
    if (s[i] !== ',') throw new Fail("Expecting ',' delimiter", i);
    i = skip(s, i + 1);
  }
}
