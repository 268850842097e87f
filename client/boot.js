// Starts the Sealpost client. Trunk's default loader is an inline <script>, which our
// Content-Security-Policy forbids; Trunk.toml's pattern_script writes a <script src="/boot.js">
// tag carrying the hashed module and wasm names instead, and this file loads them. The module
// and the wasm are preloaded by Trunk with subresource integrity.
const tag = document.querySelector('script[data-sealpost-js]');
const { default: init } = await import(tag.dataset.sealpostJs);
await init({ module_or_path: tag.dataset.sealpostWasm });
