//! With `--cfg sealpost_split` (`.ci/lib.sh client_rustflags`, so every bundle build), the app
//! binary keeps its relocations for `wasm-split-cli` (`src/lazy.rs` says why); other builds
//! (tests, `cargo check`, clippy) compile the lazily loaded parts as plain functions.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sealpost_split)");
    println!("cargo::rerun-if-env-changed=CARGO_CFG_SEALPOST_SPLIT");
    if std::env::var_os("CARGO_CFG_SEALPOST_SPLIT").is_some() {
        println!("cargo::rustc-link-arg-bin=client=--emit-relocs");
    }
}
