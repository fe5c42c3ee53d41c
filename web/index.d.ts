// Type declarations for edgepack-web (src/index.js).

/** A JSON value a record field may hold. */
export type FieldValue = number | string | boolean | null;
/** One input record: feature name -> value (null or NaN for missing). */
export type InputRecord = Record<string, FieldValue>;

export interface Feature {
  name: string;
  /** text: any string, split into words by a text vectorizer in the model */
  type: 'float' | 'int' | 'bool' | 'category' | 'text';
  nullable: boolean;
  categories?: string[];
  unknown?: 'error' | 'ignore';
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  missing_rate: number;
  frequencies?: Record<string, number>;
}

export interface InputSchema {
  features: Feature[];
}

export interface TensorBinding {
  name: string;
  features: string[];
  dtype: 'float32' | 'float64' | 'int64' | 'int32' | 'string' | 'float64-parts';
  /** a string input that takes its text lowercased (Python's str.lower; toLowerCase) */
  lowercase?: boolean;
}

export interface ArtifactEntry {
  id: string;
  format: 'onnx' | 'tflite' | 'tfjs' | 'coreml';
  file: string;
  files?: { file: string; sha256: string; size: number }[];
  sha256: string;
  size: number;
  precision: string;
  quantization?: string;
  default?: boolean;
  converter: { name: string; version: string };
  inputs: TensorBinding[];
  outputs: Record<string, string>;
  [key: string]: unknown;
}

export interface Manifest {
  format: 'edgepack';
  format_version: 1;
  model: { name: string; version: string; task: 'classification' | 'regression'; created: string };
  inputs: InputSchema;
  outputs: { names: string[]; classes?: (string | number | boolean)[]; value_scale?: number };
  artifacts: ArtifactEntry[];
  golden: { file: string; sha256: string; rows: number };
  tolerance_profiles: Record<string, Tolerance>;
  [key: string]: unknown;
}

export interface Tolerance {
  min_label_agreement: number;
  max_probability_error: number;
  max_value_error: number;
}

/** Contract 3: label = classes[argmax(probabilities)], first on ties; keys are Python's str() of each class. */
export interface ClassPrediction {
  label: string | number | boolean;
  probabilities: Record<string, number>;
}
export interface ValuePrediction {
  value: number;
}
export type Prediction = ClassPrediction | ValuePrediction;

export interface Rejection {
  /** Index of the record (counted from `start`). */
  record: number;
  field: string | null;
  reason: string;
}

export interface ScoreResult {
  kept: number[];
  predictions: Prediction[];
  rejections: Rejection[];
}

export type RawOutputs = { probabilities: number[][] } | { value: number[] };

export interface SelfTestResult {
  rows: number;
  labelAgreement: number | null;
  maxError: number;
  tolerance: Tolerance;
  passed: boolean;
}

export type BackendName = 'js' | 'ort-wasm' | 'tfjs-wasm' | 'tfjs-webgl' | 'tfjs-cpu';

export interface LoadOptions {
  /** An artifact id (default: the package's default ONNX artifact, else its default TF.js artifact). */
  artifact?: string;
  /** 'auto' (default) or a backend name. */
  backend?: 'auto' | BackendName;
  /** Directories the .wasm files are served from (default: beside the modules of the page's import map). */
  wasmPaths?: { ort?: string; tfjs?: string };
  /** onnxruntime-web threads (default 1). */
  threads?: number;
  /** PEM public keys (edgepack keygen's .pub): accept the package only with a valid signature by one of them. */
  trust?: string[];
}

/** A .edgepack file (bytes or Blob), or a package directory in memory: relative path -> bytes, Blob or File, or a dropped folder's files. */
export type PackageFiles = Uint8Array | ArrayBuffer | Blob | Map<string, Uint8Array | ArrayBuffer | Blob> | Record<string, Uint8Array | ArrayBuffer | Blob> | FileList | File[];

export class EdgepackError extends Error {
  what: string;
  where: string | null;
  fix: string | null;
  exitCode: number;
}
export class UsageError extends EdgepackError {}
export class PackageError extends EdgepackError {}
export class RecordError extends EdgepackError {
  reason: string;
  field: string | null;
  record: number | null;
}

export const EXIT_OK: 0;
export const EXIT_CHECK_FAILED: 1;
export const EXIT_USAGE: 2;
export const EXIT_REJECTED: 3;
export const EXIT_PACKAGE: 4;
export const FORMAT_VERSION: 1;
export const version: string;

export class Package {
  static open(location: string | URL | PackageFiles, options?: { maxManifestBytes?: number }): Promise<Package>;
  readonly manifest: Manifest;
  readonly where: string;
  readonly name: string;
  readonly version: string;
  readonly task: 'classification' | 'regression';
  readonly artifacts: ArtifactEntry[];
  artifact(id?: string | null, format?: string): ArtifactEntry;
  /** A file's bytes after checking sha256 (and size) against the manifest; PackageError otherwise. */
  verifiedFile(rel: string, sha256: string, size?: number, kind?: string | null): Promise<Uint8Array>;
  artifactFiles(entry: ArtifactEntry): Promise<Record<string, Uint8Array>>;
  golden(): Promise<{ records: InputRecord[]; outputs: Record<string, unknown[]> }>;
}

export class Scorer {
  readonly package: Package;
  readonly artifact: ArtifactEntry;
  readonly backend: BackendName;
  readonly schema: InputSchema;
  readonly task: 'classification' | 'regression';
  readonly classes: (string | number | boolean)[];
  readonly classKeys: string[];
  describe(): {
    package: string; version: string; task: string; artifact: string; format: string; precision: string;
    backend: BackendName; runtime: string; runtimeVersion: string;
  };
  /** Predictions; rejects with RecordError naming the first bad record. */
  predict(records: Iterable<unknown>): Promise<Prediction[]>;
  /** Validate and score; bad records are listed, the others scored. */
  score(records: Iterable<unknown>, options?: { allowedExtra?: Set<string>; start?: number; strict?: boolean; stats?: StatsCollector }): Promise<ScoreResult>;
  /** Raw outputs ([N, C] probabilities in class order, or [N] values); rejects on the first bad record. */
  raw(records: Iterable<unknown>): Promise<RawOutputs>;
  /** Score the golden vectors and compare with the source model's outputs under the artifact's profile. */
  selftest(): Promise<SelfTestResult>;
  dispose(): Promise<void>;
}

/** A drift statistics window (runtime/stats.py's JSON shape): counts in the package's reference bins. */
export interface StatsWindow {
  format: 'edgepack-stats'; version: 1;
  package: { name: string; version: string; profile_sha256: string };
  device: string; start: string; end: string; records: number; scored: number; rejected: number;
  rejected_by_field: Record<string, number>;
  features: Record<string, Record<string, unknown>>;
  outputs: Record<string, unknown>;
}

/** Counts scored records for `edgepack drift` (src/stats.js); pass it to `Scorer.score(records, { stats })`. */
export class StatsCollector {
  /** Reads the package's profile.json (checksum-verified); rejects with PackageError when it has none. */
  static open(pkg: Package, options?: { device?: string }): Promise<StatsCollector>;
  /** The window so far. */
  window(): StatsWindow;
  /** The window so far; counting starts again from zero. */
  take(): StatsWindow;
}

/**
 * Open a package, verify the chosen artifact's files against the manifest (Web Crypto sha256) and start
 * a backend. Rejects with PackageError (unknown format version, checksum mismatch, missing file) or
 * UsageError (unknown backend, backend/artifact mismatch).
 */
export function loadPackage<S extends Scorer | TensorScorer = Scorer>(location: string | URL | PackageFiles | Package, options?: LoadOptions): Promise<S>;

/** A tensor: a typed array (or numbers) in row-major order with its shape, batch first where batched. */
export interface Tensor {
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint8ClampedArray | number[];
  dims: number[];
}
/** A value for one named tensor input: nested arrays of numbers, or a typed array with its shape. */
export type TensorValue = unknown[] | { data: ArrayBufferView; shape: number[] } | { data: ArrayBufferView; dims: number[] };
/** Pixels as an ImageData holds them: 8-bit RGBA, row by row. */
export interface Pixels { width: number; height: number; data: Uint8ClampedArray | Uint8Array | number[] }
/** Anything a page can hand over as a picture. */
export type Picture = Pixels | ImageData | HTMLCanvasElement | OffscreenCanvas | HTMLImageElement | ImageBitmap | Blob;
/** One scored record of a tensor package: top-k for a classifier, nested arrays for plain tensor outputs. */
export interface TensorPrediction {
  label?: string | number | boolean;
  top_k?: { class: string | number | boolean; probability?: number; score?: number }[];
  [output: string]: unknown;
}
export interface TensorSpec {
  name: string; dtype: string; shape: (number | null)[]; layout: string | null; kind: string;
  image: { size: [number, number]; channels: 'RGB' | 'BGR' | 'L'; scale: number; mean: number[]; std: number[] } | null;
}

/**
 * Scores a tensor package (format version 2) with one artifact (loadPackage returns it for such a
 * package: `loadPackage<TensorScorer>(...)`). Rules and outputs of the Python TensorScorer.
 */
export class TensorScorer {
  readonly package: Package;
  readonly artifact: ArtifactEntry;
  readonly backend: BackendName;
  readonly tensor: true;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly classes: (string | number | boolean)[];
  readonly topK: number;
  /** The one input that takes pictures; throws UsageError when the package has none. */
  readonly imageInput: TensorSpec;
  describe(): ReturnType<Scorer['describe']>;
  /** Batched inputs by input name -> raw outputs by output name; rejects with RecordError. */
  predict(inputs: Record<string, TensorValue>): Promise<Record<string, Tensor>>;
  /** Raw outputs to one row per record. */
  format(raw: Record<string, Tensor>): TensorPrediction[];
  /** Validate and score records ({input name: value}); bad records are listed, the others scored. */
  score(records: unknown[], options?: { start?: number }): Promise<{ kept: number[]; predictions: TensorPrediction[]; rejections: Rejection[] }>;
  raw(records: unknown[]): Promise<Record<string, Tensor>>;
  /** A picture prepared as the build prepares one (channels, Pillow's bilinear resize, scale/mean/std, layout). */
  pictureTensor(picture: Picture): Promise<Tensor>;
  scorePictures(pictures: Picture[]): Promise<TensorPrediction[]>;
  selftest(): Promise<{ rows: number; top1Agreement: number | null; maxAbsError: number; minCosine: number; tolerance: Record<string, number>; passed: boolean }>;
  dispose(): Promise<void>;
}

export function isTensorPackage(manifest: unknown): boolean;
/** numpy.transpose: out.dims[k] = dims[perm[k]]. */
export function transpose(tensor: Tensor, perm: number[]): Tensor;
/** 8-bit RGBA pixels of an ImageData, canvas, <img>, ImageBitmap (not a Blob: see TensorScorer.pictureTensor). */
export function pixelsOf(source: Exclude<Picture, Blob>): Pixels;
/** Pillow's Image.resize(BILINEAR) on 8-bit pixels [height, width, channels], one axis at a time. */
export function resizeBilinear(data: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8Array;
/** Pixels at the input's size [N, H, W, C] (0..255) -> the model's input (runtime/tensors.py image_to_input). */
export function imageToInput(pixels: Tensor, spec: TensorSpec): Tensor;
/** One picture -> the input tensor [1, ...] of `spec`, prepared as the build prepares pictures. */
export function pictureInput(source: Exclude<Picture, Blob>, spec: TensorSpec): Tensor;
export const READABLE_VERSIONS: readonly number[];
export const TENSOR_FORMAT_VERSION: 2;

/** The id of a trusted key whose Ed25519 signature over the package is valid; rejects with PackageError. */
export function verifyPackage(pkg: Package, trust: string[]): Promise<string>;

/** The Package a registry channel serves: pointer signature, archive sha256 and package signature checked. */
export function openFromChannel(registry: string | URL, model: string, channel: string, trust: string[]): Promise<{ pkg: Package; pointer: Record<string, unknown> }>;

/** Load the version a registry channel serves (openFromChannel, then loadPackage). */
export function loadFromChannel(registry: string | URL, model: string, channel: string, options: LoadOptions & { trust: string[] }): Promise<Scorer>;

export const BACKENDS: readonly { name: BackendName; format: string; unavailable(): string | null }[];
export const BACKEND_NAMES: readonly BackendName[];

export function checkManifest(manifest: unknown, where?: string): void;
/** Throws PackageError when a serialized ONNX model declares external data (or is not well-formed protobuf). */
export function checkSelfContained(bytes: Uint8Array, where?: string): void;
/** The default manifest size limit of Package.open (8 MiB). */
export const MAX_MANIFEST_BYTES: number;
export function safeRelPath(name: string, where?: string): string;
export function sha256Hex(bytes: BufferSource): Promise<string>;
/** The record's values in schema order; throws RecordError with the Python scorer's message. */
export function checkRecord(schema: InputSchema, record: unknown, allowedExtra?: Set<string>, strict?: boolean): (number | string | null)[];
export function validateRecords(schema: InputSchema, records: Iterable<unknown>, options?: { allowedExtra?: Set<string>; start?: number; strict?: boolean }): {
  rows: (number | string | null)[][]; kept: number[]; rejections: Rejection[];
};
export function tensorsFor(binding: TensorBinding[], rows: (number | string | null)[][], schema: InputSchema): Record<string, {
  dtype: string; data: Float32Array | Float64Array | Int32Array | BigInt64Array | string[]; dims: number[];
}>;
/** A double as three float32 parts [hi, mid, lo] summing to it exactly (an input dtype `float64-parts`). */
export function float64Parts(x: number): [number, number, number];
export function parseCsv(text: string): string[][];
export function recordsFromCsv(schema: InputSchema, text: string): { header: string[]; rows: string[][]; records: InputRecord[]; extra: string[] };
export function toCsv(header: string[], rows: unknown[][]): string;
