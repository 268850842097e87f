//! The relay's layering, kept by tests (as rust-analyzer's tidy tests keep its architecture):
//! only `lib.rs` names the HTTP API, so nothing below the edge reaches up into its handlers;
//! only `store/` names sled or the object-store client; and outside the HTTP edge no module names axum, so the domain is
//! written in its own terms. ARCHITECTURE.md describes the layers these tests hold.

use std::path::{Path, PathBuf};

/// The HTTP edge: the modules that may speak axum.
const EDGE: &[&str] = &[
    "lib.rs",
    "main.rs",
    "api/",
    "assets.rs",
    "client_ip.rs",
    "commit.rs",
    "edge_errors.rs",
    "error.rs",
    "identity.rs",
    "rate_limit.rs",
    "security.rs",
    "server.rs",
    "session.rs",
    "tls.rs",
];

/// Every `.rs` file under `relay/src`: its path from there and its code with comments left out
/// (a comment may name anything).
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("relay/src is readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(files.len() > 20, "found the sources: {files:?}");
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a source file");
            let code: Vec<&str> = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect();
            let relative = path
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            (relative, code.join("\n"))
        })
        .collect()
}

/// Whether `code` names `word` as a whole identifier (not as part of a longer one).
fn names(code: &str, word: &str) -> bool {
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(identifier) && !after.is_some_and(identifier)
    })
}

/// Whether `code` names `module` as a path's first or later segment (`api::…`, `crate::api`).
fn names_path(code: &str, module: &str) -> bool {
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(module).any(|(at, _)| {
        let before = &code[..at];
        let after = &code[at + module.len()..];
        let starts = !before.chars().next_back().is_some_and(identifier);
        let ends = !after.chars().next().is_some_and(identifier);
        starts && ends && (after.starts_with("::") || before.ends_with("::"))
    })
}

/// Whether `code` names the module path `path` itself (`crate::api`, not `crate::api_keys`).
fn names_module(code: &str, path: &str) -> bool {
    code.match_indices(path).any(|(at, _)| {
        !code[at + path.len()..]
            .chars()
            .next()
            .is_some_and(|next| next.is_alphanumeric() || next == '_')
    })
}

fn in_edge(path: &str) -> bool {
    EDGE.iter().any(|edge| {
        if edge.ends_with('/') {
            path.starts_with(edge)
        } else {
            path == *edge
        }
    })
}

#[test]
fn only_lib_rs_names_the_api() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| path != "lib.rs" && !path.starts_with("api/"))
        .filter(|(_, code)| {
            names_module(code, "crate::api") || names(code, "api") && code.contains("api::")
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "these reach into the HTTP API from below it; move what they use out of `api/`: {offenders:?}"
    );
}

#[test]
fn only_the_store_names_sled() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| !path.starts_with("store/"))
        .filter(|(_, code)| names(code, "sled"))
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "only `store/` may name sled; ask the store for a typed operation: {offenders:?}"
    );
}

#[test]
fn only_the_store_names_the_object_store_client() {
    // Chunks go to files or a bucket behind the store's one interface (`put_chunk`, `chunk`,
    // `chunk_lengths`, `delete_chunks`, `stored_bundles`): nobody above it picks a backend.
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| !path.starts_with("store/"))
        .filter(|(_, code)| names(code, "object_store"))
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "only `store/` may name object_store: {offenders:?}"
    );
}

#[test]
fn outside_the_http_edge_no_module_names_axum() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| !in_edge(path))
        .filter(|(_, code)| names(code, "axum"))
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "domain modules speak in domain errors and types, the edge maps them to HTTP: {offenders:?}"
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    // A check that cannot fail proves nothing: each pattern is found where it is allowed.
    let sources = sources();
    let code = |wanted: &str| {
        &sources
            .iter()
            .find(|(path, _)| path == wanted)
            .unwrap_or_else(|| panic!("{wanted} exists"))
            .1
    };
    assert!(code("lib.rs").contains("api::router"));
    assert!(names(code("store/mod.rs"), "sled"));
    assert!(names(code("store/bucket.rs"), "object_store"));
    assert!(names(code("server.rs"), "axum"));
    assert!(!names("resled::x", "sled") && names("use sled::Db;", "sled"));
    assert!(names_path("use crate::api;", "api") && names_path("api::router(", "api"));
    assert!(!names_path("stripe_api::x", "api") && !names_path("let api = 1;", "api"));
    assert!(!code("lib.rs").contains("//!"), "comments are left out");
}
