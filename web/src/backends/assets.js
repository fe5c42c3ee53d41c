// Where the WebAssembly files of a runtime are served from. In a page, the import map that maps the
// runtime's module (e.g. 'onnxruntime-web' -> /vendor/onnxruntime-web/dist/ort.wasm.min.mjs) also says
// where its .wasm files are: beside it. No CDN is ever asked. In Node the runtimes find their own files.

export function isNode() {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
}

/** The directory URL of a module resolved through the page's import map; null in Node. */
export function moduleDir(specifier) {
  if (isNode() || typeof import.meta.resolve !== 'function') return null;
  const url = import.meta.resolve(specifier);
  return url.slice(0, url.lastIndexOf('/') + 1);
}
