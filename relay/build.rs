//! Embeds the built client (the `dist` folder `.ci/build-client` writes) into the relay binary, so that one binary
//! serves the app and the API. It writes `assets.rs` into `OUT_DIR`: a static table of every
//! file with its bytes (`include_bytes!`), content type, caching class and strong ETag, and, for
//! text and WebAssembly, the same file compressed here once with brotli (quality 11) and gzip
//! (level 9), so that the relay never compresses on a request (it used to gzip the 1.9 MB
//! bundle on every request, ~100 ms of CPU each).
//! It does not build the client: the run and test scripts run `.ci/build-client` first. Without a `dist`
//! folder the table is empty and the relay serves the API alone (a warning says so).

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    git_commit();
    println!("cargo:rerun-if-env-changed=SEALPOST_CLIENT_DIST");
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = std::env::var("SEALPOST_CLIENT_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest_dir.join("../target/dist"));
    println!("cargo:rerun-if-changed={}", dist.display());

    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &dist, &mut files);
    } else {
        println!(
            "cargo:warning=no client build at {}: the relay will serve the API only (run the scripts in .ci/ to build the client)",
            dist.display()
        );
    }
    files.sort();

    let compressed_dir =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("precompressed");
    let _ = std::fs::remove_dir_all(&compressed_dir);
    std::fs::create_dir_all(&compressed_dir).expect("create the precompressed folder");

    let mut bundle = Sha256::new();
    let mut files_list = String::new();
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (route, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(path).expect("read a dist file");
        let digest = Sha256::digest(&bytes);
        // Every file counts: scripts and WebAssembly, but also the page, its styles and the
        // manifest, which could change what the app shows. `.ci/client-digest` computes the
        // same from a `dist` folder or from what a running relay serves.
        bundle.update(route.as_bytes());
        bundle.update(digest);
        let _ = writeln!(files_list, "{}  {route}", hex(&digest));
        let etag: String = digest.iter().take(12).fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        let content_type = content_type(route);
        let (brotli, gzip) = if is_compressible(content_type) {
            let stem = compressed_dir.join(format!("{:03}", table.lines().count()));
            (
                precompressed(&bytes, &stem.with_extension("br"), brotli),
                precompressed(&bytes, &stem.with_extension("gz"), gzip),
            )
        } else {
            ("None".to_owned(), "None".to_owned())
        };
        writeln!(
            table,
            "    Asset {{ path: {route:?}, bytes: include_bytes!({file:?}), brotli: {brotli}, gzip: {gzip}, content_type: {content_type:?}, immutable: {imm}, etag: {etag:?} }},",
            file = path.display().to_string(),
            imm = is_hashed(route),
        )
        .expect("write to a string");
    }
    table.push_str("];\n");
    let bundle_hex = if files.is_empty() {
        String::new()
    } else {
        bundle.finalize().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    writeln!(table, "pub const CLIENT_SHA256: &str = {bundle_hex:?};").expect("write");
    writeln!(table, "pub const CLIENT_FILES: &str = {files_list:?};").expect("write");

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("assets.rs");
    std::fs::write(out, table).expect("write assets.rs");
}

/// Text, scripts and WebAssembly shrink under compression; images and fonts already are.
fn is_compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("application/")
        || content_type == "image/svg+xml"
}

/// Writes `bytes` compressed by `compress` to `out` and returns the table's field for it:
/// `Some(include_bytes!(..))`, or `None` where compression saves less than a tenth (a client
/// then gets the file as it is).
fn precompressed(bytes: &[u8], out: &Path, compress: fn(&[u8]) -> Vec<u8>) -> String {
    let packed = compress(bytes);
    if packed.len() * 10 > bytes.len() * 9 {
        return "None".to_owned();
    }
    std::fs::write(out, packed).expect("write a precompressed file");
    format!("Some(include_bytes!({:?}))", out.display().to_string())
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("brotli in memory");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    // No file name and no time in the header: the same input gives the same bytes.
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).expect("read the dist folder");
    for entry in entries {
        let path = entry.expect("a dist entry").path();
        if path.is_dir() {
            collect(root, &path, files);
            continue;
        }
        let relative = path.strip_prefix(root).expect("under root");
        let route = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
        let absolute = path.canonicalize().expect("canonical path");
        files.push((route, absolute));
    }
}

/// `.ci/build-client` names hashed outputs `name-<hash>.ext` (and `name-<hash>_bg.wasm`), the
/// hash being 16 lowercase hex digits (8 to 16 are accepted, as Trunk, which built the client
/// before, wrote them).
fn is_hashed(route: &str) -> bool {
    let file = route.rsplit('/').next().unwrap_or(route);
    let stem = file.split('.').next().unwrap_or(file);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((_, hash)) => {
            (8..=16).contains(&hash.len())
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        None => false,
    }
}

fn content_type(route: &str) -> &'static str {
    let extension = route.rsplit('.').next().unwrap_or("");
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// `SEALPOST_GIT_COMMIT` for `--version`: given in the environment (a build from a source
/// archive), else the checkout's `HEAD`, else `unknown`. Rebuilt when `HEAD` moves.
fn git_commit() {
    println!("cargo:rerun-if-env-changed=SEALPOST_GIT_COMMIT");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let commit = match std::env::var("SEALPOST_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => {
            for path in ["HEAD", "packed-refs"] {
                if let Some(path) = git(&["rev-parse", "--git-path", path]) {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            if let Some(name) = git(&["rev-parse", "--symbolic-full-name", "HEAD"])
                && let Some(path) = git(&["rev-parse", "--git-path", &name])
            {
                println!("cargo:rerun-if-changed={path}");
            }
            git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=SEALPOST_GIT_COMMIT={commit}");
}
