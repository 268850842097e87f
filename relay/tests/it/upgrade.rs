//! Upgrades keep the data: a data directory written by an earlier release, committed under
//! `relay/tests/fixtures/` exactly as that relay left it (sled's files and the bundle
//! folders), opens with this one (moved forward if its schema is older, after the automatic
//! backup) and everything in it still works: the audit chain verifies, the owner logs in with
//! the same key, and the send opens and decrypts to the same bytes.
//!
//! When a release changes the schema, keep the old fixtures and add the new release's one
//! (`SEALPOST_WRITE_FIXTURE=<folder> cargo test -p relay --test it -- --ignored
//! upgrade::write_a_fixture`), so every upgrade path stays tested.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use shared::crypto::LinkSecret;
use shared::ids::Id;

use super::sends::{DAY, Link, bundle};
use super::support::*;

/// What the fixture's writer knew that the relay never stores: the owner's log-in key, the
/// link's secret and one-time password, and the SHA-256 of each plaintext.
#[derive(Debug, Serialize, Deserialize)]
struct Known {
    relay_version: String,
    email: String,
    auth_key: String,
    link: Id,
    link_secret: String,
    otp: String,
    plaintext_sha256: Vec<String>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("a listing") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copy");
        }
    }
}

#[tokio::test]
#[ignore = "writes a fixture: run by hand when a release changes what the data directory holds"]
async fn write_a_fixture() {
    let Some(target) = std::env::var_os("SEALPOST_WRITE_FIXTURE") else {
        return;
    };
    let relay = relay();
    let (owner, sender) = relay.sender("ada@example.com", "ada-law").await;
    let files = bundle(&[3000, 10]);
    let link = relay.send(&sender, &files, 2, 7 * DAY).await;
    let gone = relay.send(&sender, &bundle(&[20]), 1, 7 * DAY).await;
    relay.open_ok(&gone).await;
    let known = Known {
        relay_version: env!("CARGO_PKG_VERSION").to_owned(),
        email: owner.email.clone(),
        auth_key: hex::encode(owner.auth_key),
        link: link.id,
        link_secret: hex::encode(link.secret.dangerously_expose_bytes()),
        otp: link.otp.clone(),
        plaintext_sha256: files
            .plaintexts
            .iter()
            .map(|plaintext| hex::encode(Sha256::digest(plaintext)))
            .collect(),
    };
    relay.store.flush().await.expect("flushed");
    let Relay {
        router, store, dir, ..
    } = relay;
    drop(router);
    drop(store);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let target = fixtures().join(target);
    copy_tree(&dir.path().join("db"), &target.join("db"));
    copy_tree(&dir.path().join("blobs"), &target.join("blobs"));
    std::fs::write(
        target.join("known.json"),
        serde_json::to_string_pretty(&known).expect("JSON"),
    )
    .expect("written");
}

#[tokio::test]
async fn the_data_directory_of_release_0_1_0_still_works() {
    opens_and_works("data-0.1.0-schema-2").await;
}

async fn opens_and_works(fixture: &str) {
    let source = fixtures().join(fixture);
    let known: Known = serde_json::from_str(
        &std::fs::read_to_string(source.join("known.json")).expect("the fixture's known.json"),
    )
    .expect("known.json parses");
    let data = tempfile::tempdir().expect("temp dir");
    copy_tree(&source.join("db"), &data.path().join("db"));
    copy_tree(&source.join("blobs"), &data.path().join("blobs"));
    let relay = relay_on(data);

    let entries = relay
        .store
        .audit_verify()
        .expect("readable")
        .expect("the audit chain verifies");
    assert!(entries > 0);

    let auth_key: [u8; 32] = hex::decode(&known.auth_key)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let login = relay.login(&known.email, &auth_key).await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "the owner logs in as before"
    );

    let info = relay.info(known.link).await;
    assert_eq!(info.status(), StatusCode::OK);
    let info: shared::wire::LinkInfo = serde_json::from_value(json(info).await).expect("info");
    let secret: [u8; 32] = hex::decode(&known.link_secret)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let link = Link::recover(
        known.link,
        LinkSecret::dangerously_from_bytes(secret),
        known.otp.clone(),
        info.otp_salt,
    );
    let opened = relay.open_ok(&link).await;
    let (_, _, plaintexts) = relay.receive(&link, &opened).await;
    let sums: Vec<String> = plaintexts
        .iter()
        .map(|plaintext| hex::encode(Sha256::digest(plaintext)))
        .collect();
    assert_eq!(
        sums, known.plaintext_sha256,
        "the send written by {} decrypts to the same bytes",
        known.relay_version
    );
}
