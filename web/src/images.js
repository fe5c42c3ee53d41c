// Pictures -> a tensor input, the way the build prepares them (converters/sources/tensor_io.py: read_images)
// so that a picture scored in a page gives what the Python side gives:
//   1. the picture's 8-bit RGBA pixels (alpha ignored, as Pillow's convert ignores it);
//   2. the declared channels: "L" with Pillow's integer rule L = (19595 R + 38470 G + 7471 B + 2^15) >> 16,
//      "RGB" as is, "BGR" reversed after resizing;
//   3. resized to the declared size with Pillow's BILINEAR filter (Image.resize: a triangle filter widened by
//      the scale when shrinking, horizontal pass then vertical, 8-bit fixed point with 22 fraction bits),
//      reimplemented here because a canvas's drawImage smoothing is the browser's own and differs;
//   4. runtime/tensors.py image_to_input: (p * scale - mean) / std per channel in float32, then the layout.
// Decoding: PNG gives the same pixels everywhere; a JPEG decoder may differ from Pillow's by a level. A file
// or Blob is decoded with colour-space conversion off (pixels as stored, as Pillow reads them); an <img>
// element is drawn as the browser shows it (colour-managed), and transparent pixels read back as black.

import { RecordError } from './errors.js';
import { TYPED_ARRAYS, transpose } from './tensors.js';

const PRECISION_BITS = 32 - 8 - 2;

/** Pillow's precompute_coeffs for the bilinear filter: per output pixel, [first input pixel, count, weights]. */
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1.0 * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const weights = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = Math.max(0, 1 - Math.abs((x + xmin - center + 0.5) * ss));
      weights.push(w);
      ww += w;
    }
    // normalize, then Pillow's normalize_coeffs_8bpc: round half away from zero to fixed point
    const fixed = weights.map((w) => {
      const v = (ww !== 0 ? w / ww : w) * (1 << PRECISION_BITS);
      return v < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
    });
    out.push({ start: xmin, weights: fixed });
  }
  return out;
}

function clip8(v) {
  if (v >= (1 << PRECISION_BITS) * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / (1 << PRECISION_BITS));
}

// Sums of up to (2 * support + 1) terms of 255 * 2^22 stay far below 2^53: plain numbers are exact here.
function pass(src, outLength, lines, step, channels, coeffs, lineStep, outStride, outStep) {
  const out = new Uint8Array(outLength);
  for (let line = 0; line < lines; line++) {
    for (let i = 0; i < coeffs.length; i++) {
      const { start, weights } = coeffs[i];
      for (let c = 0; c < channels; c++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let k = 0; k < weights.length; k++) ss += src[line * lineStep + (start + k) * step + c] * weights[k];
        out[line * outStride + i * outStep + c] = clip8(ss);
      }
    }
  }
  return out;
}

/**
 * Resize 8-bit pixels [height, width, channels] (row-major) to [outHeight, outWidth, channels] exactly as
 * Pillow's Image.resize(..., BILINEAR) does for an "L" or "RGB" picture.
 */
export function resizeBilinear(data, width, height, channels, outWidth, outHeight) {
  let pixels = data;
  let w = width;
  if (outWidth !== width) {
    const coeffs = coefficients(width, outWidth);
    pixels = pass(pixels, outWidth * height * channels, height, channels, channels, coeffs, width * channels, outWidth * channels, channels);
    w = outWidth;
  }
  if (outHeight !== height) {
    // Pillow resizes vertically over the rows the horizontal pass kept; every row is kept for a whole picture.
    const coeffs = coefficients(height, outHeight);
    pixels = pass(pixels, outHeight * w * channels, w, w * channels, channels, coeffs, channels, channels, w * channels);
  }
  return pixels === data ? Uint8Array.from(data) : pixels;
}

/** RGBA pixels -> the declared channels ("L", "RGB", "BGR": BGR is reversed after resizing, as the build does). */
function channelsOf(rgba, count, mode) {
  if (mode === 'L') {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = (rgba[4 * i] * 19595 + rgba[4 * i + 1] * 38470 + rgba[4 * i + 2] * 7471 + 0x8000) >> 16;
    return out;
  }
  const out = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = rgba[4 * i + c];
  return out;
}

function isPixels(source) {
  return source !== null && typeof source === 'object' && Number.isInteger(source.width) && Number.isInteger(source.height)
    && source.data?.length === source.width * source.height * 4;
}

/**
 * 8-bit RGBA pixels {width, height, data} of an ImageData (or any object of that shape), a canvas
 * (HTMLCanvasElement, OffscreenCanvas), an <img>, an ImageBitmap or a video frame. Throws RecordError.
 */
export function pixelsOf(source) {
  if (isPixels(source)) return { width: source.width, height: source.height, data: source.data };
  if (typeof document === 'undefined' && typeof OffscreenCanvas === 'undefined') {
    throw new RecordError('in Node, give pictures as {width, height, data} with 8-bit RGBA data (an ImageData\'s shape)');
  }
  if (typeof source?.getContext === 'function') {
    const context = source.getContext('2d');
    if (context) return context.getImageData(0, 0, source.width, source.height);
  }
  const width = source?.naturalWidth ?? source?.videoWidth ?? source?.displayWidth ?? source?.width;
  const height = source?.naturalHeight ?? source?.videoHeight ?? source?.displayHeight ?? source?.height;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RecordError('expected a picture: ImageData, a canvas, an <img> that has loaded, an ImageBitmap or a File');
  }
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d');
  context.drawImage(source, 0, 0); // at its own size: resizing is resizeBilinear's job
  return context.getImageData(0, 0, width, height);
}

/** Decode an image file (File, Blob) to RGBA pixels as stored in it (no colour management). Browsers only. */
export async function decodeImage(blob) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (err) {
    throw new RecordError(`cannot read the picture ${blob?.name ?? ''}: ${err?.message ?? err}`.replace('picture :', 'picture:'));
  }
  try {
    return pixelsOf(bitmap);
  } finally {
    bitmap.close?.();
  }
}

/**
 * Pixels at the input's size, [N, height, width, channels] in 0..255 as a {data, dims} tensor, in the
 * declared channel order -> the model's input: (p * scale - mean) / std per channel in float32, in the
 * input's layout and dtype (runtime/tensors.py: image_to_input).
 */
export function imageToInput(pixels, spec) {
  const image = spec.image;
  if (!image) throw new RecordError('this input takes no pictures (no image preprocessing is declared)', { field: spec.name });
  const channels = pixels.dims[3];
  const f = Math.fround;
  const scale = f(image.scale);
  const mean = image.mean.map(f);
  const std = image.std.map(f);
  const at = (list, c) => (list.length === 1 ? list[0] : list[c]); // numpy broadcasting of a one-value list
  const x = new Float32Array(pixels.data.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    x[i] = f(f(f(pixels.data[i]) * scale) - at(mean, c)) / at(std, c);
  }
  let tensor = { data: x, dims: pixels.dims };
  if (spec.layout === 'NCHW') tensor = transpose(tensor, [0, 3, 1, 2]);
  const Typed = TYPED_ARRAYS[spec.dtype];
  return { data: tensor.data instanceof Typed ? tensor.data : Typed.from(tensor.data, Number), dims: tensor.dims };
}

/**
 * One picture (anything pixelsOf reads) -> the input tensor [1, ...] of `spec`, prepared as the build
 * prepares a picture: channels, Pillow's bilinear resize to image.size, scale/mean/std, layout.
 */
export function pictureInput(source, spec) {
  const image = spec.image;
  if (!image) throw new RecordError('this input takes no pictures (no image preprocessing is declared)', { field: spec.name });
  const { width, height, data } = pixelsOf(source);
  const [outHeight, outWidth] = image.size;
  const channels = image.channels === 'L' ? 1 : 3;
  let pixels = resizeBilinear(channelsOf(data, width * height, image.channels), width, height, channels, outWidth, outHeight);
  if (image.channels === 'BGR') {
    const flipped = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i += 3) { flipped[i] = pixels[i + 2]; flipped[i + 1] = pixels[i + 1]; flipped[i + 2] = pixels[i]; }
    pixels = flipped;
  }
  return imageToInput({ data: pixels, dims: [1, outHeight, outWidth, channels] }, spec);
}
