"""Whole files: `model.c` + `model.h` (C99) and `model.mjs` + `model.d.ts` (an ES module), from the
program of graph.py. Both take a record of typed fields (numbers; strings for categories; NaN / NULL /
null for missing), check it by the package's rules (the device's: missing where not nullable, not an
integer, not a boolean, an unknown category where the model refuses them), and return the
probabilities (or the value) with the label index as classes[argmax], first on ties (contract 3).
Both also take a plain array in schema order with categories as their index (contract 2)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ....runtime.errors import ModelError
from ....runtime.schema import Feature, IOSchema
from .ir import Program
from .ops import EMITTERS
from .printer import CPrinter, JsPrinter, Printer
from .trees import tree_ensemble, tree_ensemble_v5

UNKNOWN = "\x7f"  # the string an unknown category index stands for: never a category of a fitted model

# op -> emitter: the per-operator table of ops.py plus the tree ensembles
ALL_EMITTERS = {**EMITTERS, "TreeEnsembleClassifier": tree_ensemble, "TreeEnsembleRegressor": tree_ensemble,
                "TreeEnsemble": tree_ensemble_v5}


@dataclass(frozen=True)
class Generated:
    files: dict[str, bytes]
    uses_libm: bool


def _identifiers(names: list[str]) -> list[str]:
    """C identifiers for feature names (letters, digits, _; unique)."""
    seen: set[str] = set()
    out = []
    for name in names:
        ident = re.sub(r"\W", "_", name, flags=re.ASCII) or "f"
        if ident[0].isdigit():
            ident = "f_" + ident
        base, k = ident, 1
        while ident in seen:
            k += 1
            ident = f"{base}_{k}"
        seen.add(ident)
        out.append(ident)
    return out


def _body(printer: Printer, program: Program) -> list[str]:
    """The operators in order, each in its own block (its scalars and loop variables stay inside)."""
    for node in program.nodes:
        emit = ALL_EMITTERS.get(node.op)
        if emit is None:
            raise ModelError(f"no code generator for ONNX {node.op}")
        printer.line(f"{{ /* {node.domain + '.' if node.domain else ''}{node.op} */")
        printer.depth += 1
        emit(printer, node)
        printer.depth -= 1
        printer.line("}")
    return printer.lines


def generate_c(program: Program, schema: IOSchema, binding: list[dict[str, Any]], precision: str, header: str,
               name: str) -> Generated:
    p = CPrinter(precision)
    body = _body(p, program)
    out = program.output
    n_out = out.size
    feats = schema.features
    idents = _identifiers([f.name for f in feats])
    text = "\n".join(body + p.tables)
    uses_libm = bool(re.search(r"\b(exp|tanh|sqrt|log)f?\(", text)) or "EP_NAN" in text or "EP_INF" in text
    guard = "EDGEPACK_" + re.sub(r"\W", "_", name.upper(), flags=re.ASCII) + "_H"
    classes = list(schema.classes) if schema.task == "classification" else []
    h = [f"/* {header} */", f"#ifndef {guard}", f"#define {guard}", "",
         f"#define EDGEPACK_N_FEATURES {len(feats)}", f"#define EDGEPACK_N_OUTPUTS {n_out}", "",
         "/* One record: numbers as double (NAN for missing), categories as strings (NULL for missing). */",
         "typedef struct {"]
    for f, ident in zip(feats, idents):
        kind = "const char *" if f.type == "category" else "double "
        note = f"  /* {f.name!r}: {f.type}{', nullable' if f.nullable else ''} */"
        h.append(f"    {kind}{ident};{note}")
    h += ["} edgepack_record;", "",
          "/* Class labels as text, in output order (empty for a regressor). */",
          f"extern const char *const edgepack_classes[{max(len(classes), 1)}];",
          "/* Feature names in schema order (the order of edgepack_predict_array's x). */",
          f"extern const char *const edgepack_features[{len(feats)}];", "",
          "/* Score one record into out[EDGEPACK_N_OUTPUTS] (probabilities, or the value).",
          " * Returns the label index (classifiers; 0 for regressors), or -(1 + i) when feature i breaks",
          " * the package's rules (missing where not nullable, not an integer/boolean, unknown category). */",
          "int edgepack_predict(const edgepack_record *record, double *out);",
          "/* The same from x[EDGEPACK_N_FEATURES] in schema order; a category as its index in the",
          " * manifest's list (-1 unknown, NAN missing). */",
          "int edgepack_predict_array(const double *x, double *out);",
          "/* Set field `field` (schema order) of a record: `number` for numbers, `text` for categories. */",
          "void edgepack_record_set(edgepack_record *r, int field, double number, const char *text);",
          "", "#endif", ""]
    c = [f"/* {header} */", "/* C99, no allocation; libm only for exp/tanh/sqrt/log. */",
         "/* GCC 12's SLP vectorizer was seen to drop a double -> float rounding of this code at -O2, which changes",
         " * the float32 results the model defines: this file turns that one pass off for itself. */",
         "#if defined(__GNUC__) && !defined(__clang__)", '#pragma GCC optimize ("no-tree-slp-vectorize")', "#endif"]
    if uses_libm:
        c += ["#include <math.h>", "#define EP_NAN NAN", "#define EP_INF INFINITY"]
    c += [f'#include "{name}.h"', ""]
    # record API: checks, then the graph's input arrays per the binding (made first: the helpers it and the
    # graph use decide which of ep_streq and ep_nan the file defines)
    record_fn = ["int edgepack_predict(const edgepack_record *r, double *out) {"]
    for j, (f, ident) in enumerate(zip(feats, idents)):
        record_fn += ["    " + line for line in _c_check(f, f"r->{ident}", j)]
    record_fn += _c_feed(p, program, binding, feats, idents) + _c_label(schema, n_out) + ["}", ""]
    used = "\n".join(body + p.tables + record_fn)
    if "ep_streq(" in used:
        c += ["static int ep_streq(const char *a, const char *b) {", "    while (*a && *a == *b) { a++; b++; }",
              "    return *a == *b;", "}", ""]
    if "ep_nan()" in used:
        c += ["static double ep_nan(void) {", "    volatile double zero = 0.0;", "    return zero / zero;", "}", ""]
    c += [f"const char *const edgepack_classes[{max(len(classes), 1)}] = {{"
          + ", ".join(p.lit(str(k), "str") for k in classes or [""]) + "};"]
    c += [f"const char *const edgepack_features[{len(feats)}] = {{" + ", ".join(p.lit(f.name, "str") for f in feats) + "};", ""]
    for j, f in enumerate(feats):
        if f.type == "category" and f.categories:
            c.append(f"static const char *const ep_cats_{j}[{len(f.categories)}] = {{"
                     + ", ".join(p.lit(x, "str") for x in f.categories) + "};")
    c.append("")
    c += p.tables
    c.append("")
    # ep_run: the graph, from its input arrays to out
    params = []
    for v in program.inputs:
        params.append(f"const char *const *{p.name(v)}" if v.dtype == "str" else f"const {p.ctype(v.dtype)} *{p.name(v)}")
    c.append(f"static void ep_run({', '.join(params)}, double *out) {{")
    c += p.decls
    c += [f"    (void){p.name(v)};" for v in program.inputs]  # a column the model ignores (remainder='drop') is unused
    c += body
    c.append(f"    for (int i = 0; i < {n_out}; i++) out[i] = (double){p.name(out)}[i];")
    c += ["}", ""]
    c += record_fn
    c.append("int edgepack_predict_array(const double *x, double *out) {")
    c.append("    edgepack_record r;")
    for j, (f, ident) in enumerate(zip(feats, idents)):
        if f.type == "category":
            cats = f.categories or []
            c.append(f"    if (x[{j}] != x[{j}]) r.{ident} = 0;")
            c.append(f"    else if (x[{j}] >= 0 && x[{j}] < {len(cats)} && x[{j}] == (double)(int)x[{j}]) "
                     f"r.{ident} = {'ep_cats_' + str(j) + '[(int)x[' + str(j) + ']]' if cats else p.lit(UNKNOWN, 'str')};")
            c.append(f"    else r.{ident} = {p.lit(UNKNOWN, 'str')};")
        else:
            c.append(f"    r.{ident} = x[{j}];")
    c += ["    return edgepack_predict(&r, out);", "}", ""]
    # A setter by field index, for loops that fill records from a generic source (a sensor table, a harness).
    c.append("void edgepack_record_set(edgepack_record *r, int field, double number, const char *text) {")
    c.append("    switch (field) {")
    for j, (f, ident) in enumerate(zip(feats, idents)):
        c.append(f"    case {j}: r->{ident} = {'text' if f.type == 'category' else 'number'}; break;")
    c += ["    default: break;", "    }", "    (void)number;", "    (void)text;", "}", ""]
    return Generated({f"{name}.c": "\n".join(c).encode(), f"{name}.h": "\n".join(h).encode()}, uses_libm)


def _c_check(f: Feature, v: str, j: int) -> list[str]:
    bad = f"return -{j + 1};"
    if f.type == "category":
        lines = []
        if not f.nullable:
            lines.append(f"if ({v} == 0) {bad}")
        if f.unknown == "error" and f.categories:
            known = " || ".join(f"ep_streq({v}, ep_cats_{j}[{k}])" for k in range(len(f.categories)))
            lines.append(f"if ({v} != 0 && !({known})) {bad}")
        return lines
    lines = [] if f.nullable else [f"if ({v} != {v}) {bad}"]  # NaN: missing
    lines.append(f"if ({v} == {v} && {v} - {v} != 0) {bad}")  # infinity (x - x is NaN only for inf and NaN)
    if f.type == "int":
        lines.append(f"if ({v} == {v} && ({v} > 9.0e15 || {v} < -9.0e15 || {v} != (double)(long long){v})) {bad}")
    elif f.type == "bool":
        lines.append(f"if ({v} == {v} && {v} != 0 && {v} != 1) {bad}")
    return lines


def _c_feed(p: CPrinter, program: Program, binding: list[dict[str, Any]], feats: list[Feature],
            idents: list[str]) -> list[str]:
    by_name = {t["name"]: t for t in binding}
    index = {f.name: j for j, f in enumerate(feats)}
    lines = []
    args = []
    for v in program.inputs:
        spec = by_name.get(v.name)
        if spec is None:
            raise ModelError(f"the ONNX input {v.name!r} is not in the artifact's input binding")
        arr = f"in_{p.name(v)}"
        if v.dtype == "str":
            lines.append(f"    const char *{arr}[{len(spec['features'])}];")
            for k, fname in enumerate(spec["features"]):
                ident = idents[index[fname]]
                lines.append(f"    {arr}[{k}] = r->{ident} ? r->{ident} : \"\";")
        else:
            ctype = p.ctype(v.dtype)
            lines.append(f"    {ctype} {arr}[{len(spec['features'])}];")
            for k, fname in enumerate(spec["features"]):
                j = index[fname]
                f = feats[j]
                if f.type == "category":
                    cats = f.categories or []
                    chain = " : ".join(f"ep_streq(r->{idents[j]}, ep_cats_{j}[{q}]) ? {q}" for q in range(len(cats)))
                    value = f"(r->{idents[j]} == 0 ? ep_nan() : ({chain + ' : ' if cats else ''}-1))"
                    lines.append(f"    {arr}[{k}] = ({ctype}){value};")
                else:
                    lines.append(f"    {arr}[{k}] = ({ctype})r->{idents[j]};")
        args.append(arr)
    lines.append(f"    ep_run({', '.join(args)}, out);")
    return lines


def _c_label(schema: IOSchema, n_out: int) -> list[str]:
    if schema.task != "classification":
        return ["    return 0;"]
    return ["    int best = 0;", f"    for (int i = 1; i < {n_out}; i++) if (out[i] > out[best]) best = i;",
            "    return best;"]


def generate_js(program: Program, schema: IOSchema, binding: list[dict[str, Any]], header: str, name: str) -> Generated:
    p = JsPrinter()
    body = _body(p, program)
    out = program.output
    feats = schema.features
    classes = [c.item() if hasattr(c, "item") else c for c in schema.classes] if schema.task == "classification" else []
    meta = {"features": [f.name for f in feats], "classes": classes, "task": schema.task}
    js = [f"// {header}", "// An ES module with no dependencies: predict(records) -> [{label, probabilities} | {value}].", ""]
    if "utf8(" in "\n".join(body + p.tables):
        js += ["const utf8 = (s) => new TextDecoder().decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));", ""]
    js.append(f"export const model = {json.dumps(meta)};")
    specs = []
    for f in feats:
        specs.append({"name": f.name, "type": f.type, "nullable": bool(f.nullable), "unknown": f.unknown,
                      "categories": list(f.categories) if f.categories else None})
    js.append(f"const FEATURES = {json.dumps(specs)};")
    js.append(f"const BINDING = {json.dumps(binding)};")
    js += p.tables
    js += p.decls
    js.append("")
    params = [p.name(v) for v in program.inputs]
    js.append(f"function run({', '.join(params)}) {{")
    js += body
    js.append(f"  return Array.from({p.name(out)}, Number);")
    js += ["}", ""]
    js.append(_JS_API.replace("__INPUTS__", json.dumps([v.name for v in program.inputs]))
              .replace("__KINDS__", json.dumps({v.name: v.dtype for v in program.inputs}))
              .replace("__UNKNOWN__", json.dumps(UNKNOWN)))
    dts = _JS_DTS
    return Generated({f"{name}.mjs": "\n".join(js).encode(), f"{name}.d.ts": dts.encode()}, False)


_JS_API = r'''
const INPUTS = __INPUTS__;
const KINDS = __KINDS__;
const UNKNOWN = __UNKNOWN__;

export class RecordError extends Error {
  constructor(field, reason) {
    super(`${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

/** The package's rules for one field (runtime/records.py): the value to feed, or a RecordError. */
function checked(f, value) {
  const missing = value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value));
  if (missing) {
    if (!f.nullable) throw new RecordError(f.name, 'missing value (null or NaN) where the model needs one');
    return f.type === 'category' || f.type === 'text' ? null : NaN;
  }
  if (f.type === 'text') {
    if (typeof value !== 'string') throw new RecordError(f.name, 'expected text (a string)');
    return value;
  }
  if (f.type === 'category') {
    if (typeof value !== 'string') throw new RecordError(f.name, 'expected a category (string)');
    if (f.unknown === 'error' && f.categories && !f.categories.includes(value)) {
      throw new RecordError(f.name, `unknown category; the model knows: ${f.categories.slice(0, 8).join(', ')}`);
    }
    return value;
  }
  const v = typeof value === 'boolean' && f.type === 'bool' ? Number(value) : value;
  if (typeof v !== 'number') throw new RecordError(f.name, 'expected a number');
  if (!Number.isFinite(v)) throw new RecordError(f.name, 'infinity is not a valid value');
  if (f.type === 'int' && !Number.isInteger(v)) throw new RecordError(f.name, 'expected an integer');
  if (f.type === 'bool' && v !== 0 && v !== 1) throw new RecordError(f.name, 'expected a boolean (true/false or 0/1)');
  return v;
}

function tensors(values) {
  const byName = Object.fromEntries(FEATURES.map((f, i) => [f.name, [f, values[i]]]));
  return INPUTS.map((name) => {
    const spec = BINDING.find((t) => t.name === name);
    return spec.features.map((feature) => {
      const [f, v] = byName[feature];
      // text as Python's str.lower gives it where the binding says so (toLowerCase: the same mapping)
      if (KINDS[name] === 'str') return v === null ? '' : spec.lowercase ? v.toLowerCase() : v;
      if (f.type !== 'category') return v;
      if (v === null) return NaN;
      return f.categories ? f.categories.indexOf(v) : -1;
    });
  });
}

function labelled(out) {
  if (model.task !== 'classification') return { value: out[0] };
  let best = 0;
  for (let i = 1; i < out.length; i++) if (out[i] > out[best]) best = i;
  return { label: model.classes[best], probabilities: Object.fromEntries(model.classes.map((c, j) => [String(c), out[j]])) };
}

/** Score one record (an object of feature values); throws RecordError naming the field. */
export function predictOne(record) {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new RecordError('record', 'a record must be an object');
  return labelled(run(...tensors(FEATURES.map((f) => checked(f, record[f.name])))));
}

/** Score records; a record that breaks the rules gives {error} in its place (nothing is dropped). */
export function predict(records) {
  return Array.from(records, (record) => {
    try {
      return predictOne(record);
    } catch (err) {
      if (err instanceof RecordError) return { error: err.message, field: err.field };
      throw err;
    }
  });
}

/** Score x in schema order, a category as its index in the manifest's list (-1 unknown, NaN missing), text as a string. */
export function predictArray(x) {
  const record = {};
  FEATURES.forEach((f, i) => {
    const v = x[i];
    if (f.type !== 'category') record[f.name] = v;  // numbers; text as its string
    else if (Number.isNaN(v) || v === null) record[f.name] = null;
    else record[f.name] = f.categories && v >= 0 && v < f.categories.length && Number.isInteger(v) ? f.categories[v] : UNKNOWN;
  });
  return predictOne(record);
}
'''

_JS_DTS = '''// Types of the generated model module (edgepack --targets js).
export interface ModelInfo { features: string[]; classes: (string | number | boolean)[]; task: 'classification' | 'regression'; }
export type Prediction = { label: string | number | boolean; probabilities: Record<string, number> } | { value: number };
export class RecordError extends Error { field: string; reason: string; }
export const model: ModelInfo;
export function predictOne(record: Record<string, unknown>): Prediction;
export function predict(records: Iterable<Record<string, unknown>>): (Prediction | { error: string; field: string })[];
export function predictArray(x: ArrayLike<number | string>): Prediction;
'''
