// CSV in and out for pages (the demo's drop zone): RFC 4180 quoting, cells typed by the input schema
// so that validation sees what the Python scorer sees when pandas reads the same file.

/** Rows of cells from CSV text (quotes, doubled quotes, CRLF and newlines inside quotes handled). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

const MISSING = new Set(['', 'nan', 'NaN', 'NA', 'N/A', 'null', 'None']);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|Infinity)$/i;

/** One CSV cell as the JSON value a record would hold for `feature` (null = missing). */
export function cellValue(feature, cell) {
  const text = cell.trim();
  if (feature?.type === 'category') return text === '' ? null : cell;
  if (MISSING.has(text)) return null;
  if (feature?.type === 'bool' && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  if (NUMBER.test(text)) return /inf/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text);
  return cell;
}

/**
 * CSV text -> {header, records, extra}: one record per row with the schema's features typed by
 * cellValue; columns that are not model inputs (an id, the label) are listed in `extra` and left out.
 */
export function recordsFromCsv(schema, text) {
  const [header = [], ...rows] = parseCsv(text.replace(/^\uFEFF/, '')); // a byte-order mark, as edgepack-score skips it
  const byName = new Map(schema.features.map((f) => [f.name, f]));
  const extra = header.filter((h) => !byName.has(h));
  const records = rows.map((cells) => {
    const record = {};
    header.forEach((name, j) => {
      if (byName.has(name) && j < cells.length) record[name] = cellValue(byName.get(name), cells[j]);
    });
    return record;
  });
  return { header, rows, records, extra };
}

function quote(value) {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV text from a header and rows of values. */
export function toCsv(header, rows) {
  return [header, ...rows].map((r) => r.map(quote).join(',')).join('\n') + '\n';
}
