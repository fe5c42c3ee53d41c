// Validation and encoding: the same rules and messages as the Python scorer (runtime/records.py), whose
// verdicts on the same JSON lines were recorded by fixtures/make_fixtures.py.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { checkRecord, float64Parts, tensorsFor, RecordError } from '../src/index.js';
import { parseJson } from '../src/jsonl.js';
import { floatRepr, pyRepr } from '../src/pyrepr.js';
import { cellValue, parseCsv, recordsFromCsv, toCsv } from '../src/csv.js';
import { fixtures } from './helpers.js';

let cases;
before(async () => { ({ cases } = await fixtures()); });

describe('records are checked as runtime/records.py checks them', () => {
  test('every case: the same values, or the same field and message (default and strict)', () => {
    assert.ok(cases.cases.length >= 40);
    for (const [c, strict] of cases.cases.flatMap((c) => [[c, false], [c.strict, true]])) {
      const record = parseJson(c.line);
      if ('values' in c) {
        assert.deepEqual(checkRecord(cases.schema, record, new Set(), strict), c.values, c.line);
      } else {
        assert.throws(() => checkRecord(cases.schema, record, new Set(), strict), (err) => {
          assert.ok(err instanceof RecordError, c.line);
          assert.equal(err.field, c.field, c.line);
          assert.equal(err.reason, c.reason, c.line);
          return true;
        });
      }
    }
  });

  test('the input contract: extra fields ignored unless strict, a nullable field left out is missing', () => {
    const schema = { features: [{ name: 'x', type: 'float', nullable: true }, { name: 'n', type: 'int' }] };
    assert.deepEqual(checkRecord(schema, { n: 3, customer_id: 'c1' }), [null, 3]);
    assert.throws(() => checkRecord(schema, { n: 3, customer_id: 'c1' }, new Set(), true),
      { field: 'customer_id', reason: 'unknown field: the model has no such input (--strict)' });
    assert.deepEqual(checkRecord(schema, { n: 3, customer_id: 'c1' }, new Set(['customer_id']), true), [null, 3]);
    assert.throws(() => checkRecord(schema, { x: 1.5 }), { field: 'n', reason: 'missing field' });
  });

  test('the documented difference: JSON 5.0 reads as an integer in JavaScript', () => {
    const schema = { features: [{ name: 'c', type: 'category', nullable: false, categories: ['a'], unknown: 'error' }] };
    assert.throws(() => checkRecord(schema, parseJson('{"c": 5.0}')), { reason: 'expected a category (string), got int 5' });
  });
});

describe('Python repr of numbers and strings (hand-worked)', () => {
  for (const [x, want] of [[1e-5, '1e-05'], [0.0001, '0.0001'], [1.5e16, '1.5e+16'], [1e15 + 0.5, '1000000000000000.5'],
    [2.5, '2.5'], [-0.0, '-0.0'], [123456789.125, '123456789.125'], [1.25e-10, '1.25e-10'], [1e300, '1e+300'], [0.1, '0.1']]) {
    test(`floatRepr(${x}) = ${want}`, () => assert.equal(floatRepr(x), want));
  }
  test('strings pick their quote as Python does', () => {
    assert.equal(pyRepr("it's"), '"it\'s"');
    assert.equal(pyRepr('say "hi"'), '\'say "hi"\'');
    assert.equal(pyRepr('both \' and "'), "'both \\' and \"'");
  });
});

describe('tensors (contract 2)', () => {
  const schema = { features: [
    { name: 'x', type: 'float', nullable: true },
    { name: 'c', type: 'category', categories: ['a', 'b', 'c'], unknown: 'ignore' },
    { name: 'n', type: 'int' },
  ] };
  const rows = [[1.5, 'b', 3], [null, 'zz', 4]];

  test('a numeric tensor takes categories as their index, -1 when unknown, NaN for missing', () => {
    const feeds = tensorsFor([{ name: 'all', features: ['x', 'c', 'n'], dtype: 'float32' }], rows, schema);
    assert.equal(feeds.all.dtype, 'float32');
    assert.ok(feeds.all.data instanceof Float32Array);
    assert.deepEqual(feeds.all.dims, [2, 3]);
    assert.deepEqual(Array.from(feeds.all.data), [1.5, 1, 3, NaN, -1, 4]);
  });

  test('a missing category goes as NaN, an unknown one as -1 (runtime/records.py category_index does the same)', () => {
    const nullable = { features: [{ name: 'c', type: 'category', categories: ['a', 'b'], unknown: 'ignore', nullable: true }] };
    const feeds = tensorsFor([{ name: 'c', features: ['c'], dtype: 'float32' }], [['b'], [null], ['zz']], nullable);
    assert.deepEqual(Array.from(feeds.c.data), [1, NaN, -1]);
  });

  test('string tensors take categories as strings; float64 tensors keep float64', () => {
    const feeds = tensorsFor([
      { name: 'c', features: ['c'], dtype: 'string' },
      { name: 'x', features: ['x'], dtype: 'float64' },
    ], rows, schema);
    assert.deepEqual(feeds.c, { dtype: 'string', data: ['b', 'zz'], dims: [2, 1] });
    assert.ok(feeds.x.data instanceof Float64Array);
    assert.deepEqual(Array.from(feeds.x.data), [1.5, NaN]);
  });

  test('text: any string, lowercased as Python\'s str.lower where the binding says lowercase', () => {
    const textSchema = { features: [{ name: 't', type: 'text', nullable: false }] };
    assert.deepEqual(checkRecord(textSchema, { t: '' }), ['']);
    assert.throws(() => checkRecord(textSchema, { t: 3 }), { field: 't', reason: 'expected text (a string), got int 3' });
    assert.throws(() => checkRecord(textSchema, { t: null }),
      { field: 't', reason: 'missing value (null or NaN) where the model needs one' });
    const rowsT = [['ΟΔΟΣ İstanbul Café'], ['']];
    const feeds = tensorsFor([{ name: 't', features: ['t'], dtype: 'string', lowercase: true }], rowsT, textSchema);
    // hand-worked from Python: 'ΟΔΟΣ İstanbul Café'.lower()
    assert.deepEqual(feeds.t, { dtype: 'string', data: ['οδος i\u0307stanbul café', ''], dims: [2, 1] });
    const raw = tensorsFor([{ name: 't', features: ['t'], dtype: 'string' }], rowsT, textSchema);
    assert.deepEqual(raw.t.data, ['ΟΔΟΣ İstanbul Café', '']);
  });

  test('the order of features inside a tensor is the binding\'s, not the schema\'s', () => {
    const feeds = tensorsFor([{ name: 't', features: ['n', 'x'], dtype: 'float64' }], rows, schema);
    assert.deepEqual(Array.from(feeds.t.data), [3, 1.5, 4, NaN]);
  });

  // Worked by hand: x = 1 + 2^-24 + 2^-50 + 2^-52 rounds up to the float32 1 + 2^-23; the rest,
  // -2^-24 + 1.25 * 2^-50, rounds to -2^-24 (float32 steps are 2^-48 there); 1.25 * 2^-50 is left.
  const x = 1 + 2 ** -24 + 2 ** -50 + 2 ** -52;
  const xParts = [1 + 2 ** -23, -(2 ** -24), 2 ** -50 + 2 ** -52];

  test('float64 parts: hi, mid and lo are float32 values whose sum is the double', () => {
    assert.deepEqual(float64Parts(x), xParts);
    assert.deepEqual(float64Parts(-x), xParts.map((v) => -v));
    assert.deepEqual(float64Parts(1e300), [3.4028234663852886e38, 0, 0]); // beyond float32: its largest value
    assert.deepEqual(float64Parts(-1e300), [-3.4028234663852886e38, 0, 0]);
    assert.ok(float64Parts(NaN).every(Number.isNaN));
  });

  test('a float64-parts tensor is float32 [N, F, 3]; categories as their index, NaN for missing', () => {
    const feeds = tensorsFor([{ name: 'p', features: ['x', 'c'], dtype: 'float64-parts' }], [[x, 'b'], [null, 'zz']], schema);
    assert.equal(feeds.p.dtype, 'float32');
    assert.ok(feeds.p.data instanceof Float32Array);
    assert.deepEqual(feeds.p.dims, [2, 2, 3]);
    assert.deepEqual(Array.from(feeds.p.data), [...xParts, 1, 0, 0, NaN, NaN, NaN, -1, 0, 0]);
  });
});

describe('JSON lines and CSV', () => {
  test('NaN and infinities outside strings are numbers; inside strings they stay text', () => {
    assert.deepEqual(parseJson('{"a": NaN, "b": -Infinity, "c": "NaN Infinity", "d": [Infinity]}'),
      { a: NaN, b: -Infinity, c: 'NaN Infinity', d: [Infinity] });
    assert.throws(() => parseJson('{"a": nan}'), SyntaxError);
  });

  test('CSV quoting round-trips', () => {
    const rows = [['a', 'b,c', 'say "x"'], ['1', 'line\nbreak', '']];
    assert.deepEqual(parseCsv(toCsv(rows[0], [rows[1]])), rows);
  });

  test('cells are typed by the schema: categories stay text, empty numbers are missing', () => {
    assert.equal(cellValue({ type: 'category' }, '007'), '007');
    assert.equal(cellValue({ type: 'float' }, ''), null);
    assert.equal(cellValue({ type: 'float' }, 'nan'), null);
    assert.equal(cellValue({ type: 'int' }, ' 12 '), 12);
    assert.equal(cellValue({ type: 'float' }, '-1.5e3'), -1500);
    assert.equal(cellValue({ type: 'float' }, 'abc'), 'abc');
    assert.equal(cellValue({ type: 'bool' }, 'True'), true);
    const { records, extra } = recordsFromCsv({ features: [{ name: 'x', type: 'float' }] }, 'id,x\r\nA,1.5\r\nB,\r\n');
    assert.deepEqual(records, [{ x: 1.5 }, { x: null }]);
    assert.deepEqual(extra, ['id']);
  });
});

describe('JSON lines of the Node CLI (node/lines.js), as edgepack-score reads them', () => {
  test('a lone surrogate escape rejects its line; a surrogate pair is text', async () => {
    const { parseLine } = await import('../node/lines.js');
    assert.equal(parseLine('{"c": "\\ud800"}', 4).error, 'a lone surrogate escape (such as \\ud800) is not Unicode text');
    assert.equal(parseLine('{"\\udc00": 1}', 5).error, 'a lone surrogate escape (such as \\ud800) is not Unicode text');
    assert.deepEqual(parseLine('{"c": "\\ud83d\\ude00"}', 6).record, { c: '\u{1F600}' });
  });

  test('--keep-fields copies fields after the id, null where a record lacks one', async () => {
    const { resultObjects } = await import('../node/lines.js');
    const batch = [{ line: 1, record: { a: 1, tag: 'x', id: 7 } }, { line: 2, record: { a: 2 } }];
    const scored = { kept: [0, 1], predictions: [{ value: 1 }, { value: 2 }], rejections: [] };
    const out = resultObjects(batch, scored, { package: 'p', version: '1' }, 'id', ['tag']);
    assert.deepEqual(out.map((o) => Object.keys(o)), [['id', 'tag', 'value', 'package', 'version'], ['tag', 'value', 'package', 'version']]);
    assert.equal(out[1].tag, null);
  });
});

describe('CSV of the demo page (src/csv.js), as edgepack-score reads it', () => {
  test('a byte-order mark is skipped; 1_000 and full-width digits stay text', () => {
    const schema = { features: [{ name: 'x', type: 'float' }, { name: 'n', type: 'int', nullable: true }] };
    const { header, records } = recordsFromCsv(schema, '\uFEFFx,label\n1_000,a\n\uFF14\uFF12,b\n2.5,c\n');
    assert.deepEqual(header, ['x', 'label']);
    assert.deepEqual(records, [{ x: '1_000' }, { x: '\uFF14\uFF12' }, { x: 2.5 }]);
    assert.deepEqual(checkRecord(schema, records[2]), [2.5, null]); // n (nullable) left out: missing
  });
});
