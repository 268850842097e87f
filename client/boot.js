// Starts the Sealpost client. Our Content-Security-Policy forbids inline scripts, so
// .ci/build-client writes a <script src="/boot.js"> tag carrying the hashed module and wasm
// names, and this file loads them. The module and the wasm are preloaded with subresource
// integrity.
const tag = document.querySelector('script[data-sealpost-js]');
const { default: init } = await import(tag.dataset.sealpostJs);
const exports = await init({ module_or_path: tag.dataset.sealpostWasm });
// The module's memory, for measuring how much the app uses (.ci/bench-send); read-only use.
globalThis.sealpostWasmMemory = exports.memory;
