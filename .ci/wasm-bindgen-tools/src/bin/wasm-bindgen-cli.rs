//! `wasm-bindgen`, built from crates.io at the locked version (installed on PATH under that name).
fn main() -> anyhow::Result<()> {
    wasm_bindgen_cli::wasm_bindgen::run_cli_with_args(std::env::args_os())
}
