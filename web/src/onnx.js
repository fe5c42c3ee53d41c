// Refuse an ONNX artifact that is not self-contained (runtime/onnx_check.py, the same walk): a tensor
// that keeps its bytes in an external file (`data_location: EXTERNAL`, `external_data` {location: ...})
// would be read from outside the package, unchecked by any checksum. edgepack packages never use external
// data, so any tensor that declares it is refused, wherever it sits: initializers, sparse initializers,
// tensor attributes of any node, subgraphs, model-local functions, training graphs. The protobuf wire format
// is walked directly (field numbers from onnx/onnx.proto), with an explicit stack (no recursion limit).

import { PackageError } from './errors.js';

// message kind -> {field number: kind of the embedded message}; fields not listed are skipped.
const CHILDREN = {
  model: { 7: 'graph', 20: 'training', 25: 'function' },
  training: { 1: 'graph', 2: 'graph' },
  function: { 7: 'node', 11: 'attribute' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  tensor: {},
};
const EXTERNAL_DATA = 13;
const DATA_LOCATION = 14;
const FIX = 'rebuild the package with edgepack build: its artifacts keep every tensor inside the .onnx file';

function malformed(where) {
  return new PackageError('the ONNX artifact is not a well-formed ONNX model (damaged protobuf)', { where, fix: 'rebuild the package with edgepack build' });
}

function readVarint(bytes, at, end, where) {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && at < end; i++) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * scale; // a float: lengths and tags fit exactly, larger values need not
    if (byte < 0x80) return [value, at];
    scale *= 128;
  }
  throw malformed(where);
}

function shownLocation(bytes) {
  const text = new TextDecoder().decode(bytes).replace(/[^\x20-\x7e]/g, ' ').trim().slice(0, 80);
  return `'${text}'`;
}

/** Throw PackageError if the serialized ModelProto `bytes` declares external data, or is not well-formed. */
export function checkSelfContained(bytes, where) {
  const stack = [['model', 0, bytes.length]];
  while (stack.length) {
    const [kind, start, end] = stack.pop();
    const children = CHILDREN[kind];
    let at = start;
    while (at < end) {
      let tag;
      [tag, at] = readVarint(bytes, at, end, where);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) {
        let value;
        [value, at] = readVarint(bytes, at, end, where);
        if (kind === 'tensor' && field === DATA_LOCATION && value === 1) {
          throw new PackageError('the ONNX artifact keeps tensor data in an external file (data_location EXTERNAL): refused, it would be read from outside the package', { where, fix: FIX });
        }
      } else if (wire === 1) {
        at += 8;
      } else if (wire === 5) {
        at += 4;
      } else if (wire === 2) {
        let length;
        [length, at] = readVarint(bytes, at, end, where);
        if (at + length > end) throw malformed(where);
        if (kind === 'tensor' && field === EXTERNAL_DATA) {
          throw new PackageError(`the ONNX artifact names external data (${shownLocation(bytes.subarray(at, at + length))}): refused, it would be read from outside the package`, { where, fix: FIX });
        }
        const child = children[field];
        if (child !== undefined) stack.push([child, at, at + length]);
        at += length;
      } else {
        throw malformed(where);
      }
    }
    if (at !== end) throw malformed(where);
  }
}
