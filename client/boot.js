// Starts the Sealpost client. Our Content-Security-Policy forbids inline scripts, so
// .ci/build-client writes a <script src="/boot.js"> tag carrying the hashed module and wasm
// names and the wasm's integrity, and this file loads them. The module is preloaded with
// subresource integrity; the wasm is preloaded and fetched here with its integrity (Chromium
// ignores integrity on a `fetch` preload), in the preload's mode, so the preload is used.
const tag = document.querySelector('script[data-sealpost-js]');
const { default: init } = await import(tag.dataset.sealpostJs);
const wasm = fetch(tag.dataset.sealpostWasm, {
  integrity: tag.dataset.sealpostWasmIntegrity,
  credentials: 'same-origin',
  mode: 'cors',
});
const exports = await init({ module_or_path: wasm });
// The module's memory, for measuring how much the app uses (.ci/bench-send); read-only use.
globalThis.sealpostWasmMemory = exports.memory;
