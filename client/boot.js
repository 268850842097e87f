// Starts the Sealpost client. Trunk's default loader is an inline <script>, which our
// Content-Security-Policy forbids; Trunk.toml's pattern_script writes a <script src="/boot.js">
// tag carrying the hashed module and wasm names instead, and this file loads them. The module
// and the wasm are preloaded by Trunk with subresource integrity.
const tag = document.querySelector('script[data-sealpost-js]');
const { default: init } = await import(tag.dataset.sealpostJs);
const exports = await init({ module_or_path: tag.dataset.sealpostWasm });
// The module's memory, for measuring how much the app uses (.ci/bench-send); read-only use.
globalThis.sealpostWasmMemory = exports.memory;
