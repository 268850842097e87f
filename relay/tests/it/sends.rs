//! Secure Send through the HTTP API with a real store, a manual clock and the real
//! cryptography of `shared`, built natively exactly as a browser builds it: a bundle uploaded
//! chunk by chunk, finalized with its link guard, opened with the proof, downloaded with the
//! token, decrypted byte for byte, and receipted. It proves the relay's side of PROTOCOL.md
//! "Links" and "Delivery receipts": concurrent openings of a one-open link let exactly one
//! through; wrong proofs count down to destruction and toward the IP block; expiry (on access
//! and by the sweep), revocation and used-up links delete the ciphertext; uploads are checked
//! against the chunk schedule, the limits and the quota; downloads need a live token; a
//! tampered chunk fails decryption; unfinished uploads are swept; a wrong receipt changes
//! nothing; the audit log records every step, and neither it nor any stored byte holds the OTP
//! or the link secret.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use rand_core::RngCore as _;
use relay::admin::{AdminCommand, execute};
use shared::crypto::kdf::KdfParams;
use shared::crypto::{
    BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, LinkKeys, LinkSecret, Manifest,
    ManifestFile, OsRng, Passphrase, SealedChunk, SealedManifest, StreamError, derive_link_keys,
};
use shared::ids::Id;
use shared::wire;
use tower::ServiceExt as _;

const HOUR: i64 = 3600;
pub(super) const DAY: i64 = 86_400;
pub(super) const MIB: usize = CHUNK_SIZE;
const TAG: usize = 16;

use super::support::*;

impl Relay {
    pub(super) async fn log_in(&self, account: &Account) -> Login {
        let body = serde_json::json!({
            "email": account.email,
            "auth_key": shared::encoding::encode(&account.auth_key),
        });
        let response = self
            .call(Method::POST, "/api/auth/login", None, Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        login_from(response).await
    }

    /// The operator verifies the organisation `handle`.
    pub(super) fn verify(&self, handle: &str) {
        let answer = execute(
            &self.store,
            self.now(),
            &AdminCommand::OrgVerify {
                handle: handle.to_owned(),
            },
        );
        assert!(answer.ok, "{}", answer.message);
    }

    /// The owner of a new, verified organisation `handle`, logged in.
    pub(super) async fn sender(&self, email: &str, handle: &str) -> (Account, Login) {
        let owner = account(email, "a long enough password");
        let login = self.signup(&owner, handle).await;
        self.verify(handle);
        (owner, login)
    }

    async fn create(
        &self,
        login: &Login,
        files: &[u64],
        max_opens: u32,
        expires_in_seconds: i64,
    ) -> Response {
        let body = wire::CreateSendRequest {
            files: files.to_vec(),
            expires_in_seconds,
            max_opens,
            recipient_email: Some("client@example.org".to_owned()),
            invoice: None,
        };
        let body = serde_json::to_value(&body).expect("JSON");
        self.call(Method::POST, "/api/sends", Some(login), Some(body))
            .await
    }

    /// Reserves a send for `bundle`; its id.
    pub(super) async fn create_ok(
        &self,
        login: &Login,
        files: &[u64],
        max_opens: u32,
        expires_in_seconds: i64,
    ) -> Id {
        let response = self
            .create(login, files, max_opens, expires_in_seconds)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let created: wire::CreateSendResponse =
            serde_json::from_value(json(response).await).expect("a created send");
        assert_eq!(created.expires_at, self.now() + expires_in_seconds);
        created.id
    }

    /// `PUT` of raw bytes to `path`, as a browser's `fetch` would send them.
    async fn put_raw(
        &self,
        login: &Login,
        path: &str,
        content_type: Option<&str>,
        declare_length: bool,
        bytes: Vec<u8>,
    ) -> Response {
        let mut request = login.authorize(Request::builder().method(Method::PUT).uri(path));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if declare_length {
            request = request.header(header::CONTENT_LENGTH, bytes.len());
        }
        let request = request.body(Body::from(bytes)).expect("request");
        self.send_request(request).await
    }

    pub(super) async fn put_chunk(
        &self,
        login: &Login,
        id: Id,
        file: u32,
        chunk: u32,
        bytes: Vec<u8>,
    ) -> Response {
        self.put_raw(
            login,
            &format!("/api/sends/{id}/files/{file}/chunks/{chunk}"),
            Some("application/octet-stream"),
            true,
            bytes,
        )
        .await
    }

    /// Uploads every sealed chunk of `bundle` to send `id`.
    pub(super) async fn upload(&self, login: &Login, id: Id, bundle: &Bundle) {
        for (file, chunks) in bundle.sealed.iter().enumerate() {
            let file = u32::try_from(file).expect("few files");
            for (chunk, sealed) in chunks.iter().enumerate() {
                let chunk = u32::try_from(chunk).expect("few chunks");
                let response = self
                    .put_chunk(login, id, file, chunk, sealed.as_bytes().to_vec())
                    .await;
                assert_eq!(
                    response.status(),
                    StatusCode::NO_CONTENT,
                    "chunk {chunk} of file {file}"
                );
            }
        }
    }

    async fn finalize(
        &self,
        login: &Login,
        id: Id,
        guard: wire::LinkGuard,
        bundle: &Bundle,
    ) -> Response {
        let body = wire::FinalizeSendRequest {
            guard,
            manifest: bundle.manifest.clone(),
        };
        let body = serde_json::to_value(&body).expect("JSON");
        self.call(
            Method::POST,
            &format!("/api/sends/{id}/finalize"),
            Some(login),
            Some(body),
        )
        .await
    }

    /// The whole sender's side: reserve, upload, derive the link keys, finalize.
    pub(super) async fn send(
        &self,
        login: &Login,
        bundle: &Bundle,
        max_opens: u32,
        expires_in_seconds: i64,
    ) -> Link {
        let id = self
            .create_ok(login, &bundle.sizes(), max_opens, expires_in_seconds)
            .await;
        self.upload(login, id, bundle).await;
        let (link, guard) = Link::new(id, bundle);
        let response = self.finalize(login, id, guard, bundle).await;
        assert_eq!(response.status(), StatusCode::OK);
        let view: wire::SendView =
            serde_json::from_value(json(response).await).expect("a send view");
        assert_eq!(view.status, wire::SendStatus::Waiting);
        link
    }

    pub(super) async fn info(&self, id: Id) -> Response {
        self.call(Method::GET, &format!("/api/links/{id}"), None, None)
            .await
    }

    pub(super) async fn open(&self, ip: Option<&str>, id: Id, proof: &[u8; 32]) -> Response {
        self.send_request(open_request(ip, id, proof)).await
    }

    /// Opens with the right proof; the answer.
    pub(super) async fn open_ok(&self, link: &Link) -> wire::OpenLinkResponse {
        let response = self.open(None, link.id, &link.proof).await;
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_value(json(response).await).expect("an opening")
    }

    async fn download(&self, id: Id, file: u32, chunk: u32, token: Option<&str>) -> Response {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(format!("/api/links/{id}/files/{file}/chunks/{chunk}"));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send_request(request.body(Body::empty()).expect("request"))
            .await
    }

    /// One chunk, which must be served; its bytes.
    async fn download_ok(&self, id: Id, file: u32, chunk: u32, token: &str) -> SealedChunk {
        let response = self.download(id, file, chunk, Some(token)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "chunk {chunk} of file {file}"
        );
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/octet-stream"
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        SealedChunk::from_bytes(body_bytes(response).await)
    }

    /// The recipient's side after a correct opening: unwrap K, open the manifest, download and
    /// decrypt every file. Returns K, the manifest and each file's plaintext.
    pub(super) async fn receive(
        &self,
        link: &Link,
        opened: &wire::OpenLinkResponse,
    ) -> (BundleKey, Manifest, Vec<Vec<u8>>) {
        let key = link
            .keys
            .link_key
            .unwrap(&opened.wrapped_key)
            .expect("the link key unwraps K");
        let manifest = Manifest::open(&key, &opened.manifest).expect("the manifest opens");
        let mut plaintexts = Vec::new();
        for (index, file) in manifest.files.iter().enumerate() {
            let index = u32::try_from(index).expect("few files");
            let mut decryptor =
                ChunkDecryptor::new(&key.file_key(index), &file.nonce_prefix, file.size)
                    .expect("a decryptor");
            let mut plaintext = Vec::new();
            for chunk in 0..file.chunks {
                let sealed = self
                    .download_ok(
                        link.id,
                        index,
                        chunk,
                        opened.download_token.dangerously_expose(),
                    )
                    .await;
                let opened = decryptor.decrypt_next(&sealed).expect("the chunk decrypts");
                plaintext.extend_from_slice(opened.as_bytes());
            }
            decryptor.finish().expect("the file is complete");
            plaintexts.push(plaintext);
        }
        (key, manifest, plaintexts)
    }

    async fn receipt(&self, id: Id, download_token: &str, receipt: [u8; 32]) -> Response {
        let body = wire::ReceiptRequest {
            download_token: download_token.into(),
            receipt,
        };
        let body = serde_json::to_value(&body).expect("JSON");
        self.call(
            Method::POST,
            &format!("/api/links/{id}/receipt"),
            None,
            Some(body),
        )
        .await
    }

    async fn revoke(&self, login: &Login, id: Id) -> Response {
        self.call(
            Method::POST,
            &format!("/api/sends/{id}/revoke"),
            Some(login),
            None,
        )
        .await
    }

    /// The sender's view of send `id`, from the Sent list.
    async fn sent(&self, login: &Login, id: Id) -> wire::SendView {
        let response = self
            .call(Method::GET, "/api/sends", Some(login), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let sends: Vec<wire::SendView> =
            serde_json::from_value(json(response).await).expect("a list of sends");
        sends
            .into_iter()
            .find(|send| send.id == id)
            .expect("the send is listed")
    }

    /// The folder holding the chunk files of send `id`.
    fn blobs_of(&self, id: Id) -> PathBuf {
        self.store
            .chunk_path(id, 0, 0)
            .parent()
            .expect("a folder")
            .to_path_buf()
    }

    fn stored(&self, id: Id) -> relay::store::SendRecord {
        self.store
            .send(id)
            .expect("reads")
            .expect("the send is stored")
    }

    /// `(action, outcome, target)` of the organisation's audit entries, oldest first.
    fn audit(&self, org: Id) -> Vec<(String, String, Option<String>)> {
        let mut entries: Vec<_> = self
            .store
            .audit_entries_of_org(org, 10_000)
            .expect("reads")
            .into_iter()
            .map(|entry| {
                let outcome = serde_json::to_value(entry.outcome).expect("JSON");
                (
                    entry.action,
                    outcome.as_str().unwrap_or("").to_owned(),
                    entry.target,
                )
            })
            .collect();
        entries.reverse();
        entries
    }
}

fn open_request(ip: Option<&str>, id: Id, proof: &[u8; 32]) -> Request<Body> {
    let body = serde_json::to_value(wire::OpenLinkRequest {
        proof: (*proof).into(),
    })
    .expect("JSON");
    request(
        ip,
        Method::POST,
        &format!("/api/links/{id}/open"),
        None,
        Some(body),
    )
}

// ---------------------------------------------------------------------------------------------
// The browser's cryptography, natively.

/// A bundle as the sender's browser prepares it: K, the manifest, each file's plaintext and
/// its sealed chunks.
pub(super) struct Bundle {
    key: BundleKey,
    files: Vec<ManifestFile>,
    pub(super) plaintexts: Vec<Vec<u8>>,
    pub(super) sealed: Vec<Vec<SealedChunk>>,
    manifest: SealedManifest,
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0_u8; len];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

impl Bundle {
    /// Each file's plaintext size, as `CreateSendRequest` declares them.
    pub(super) fn sizes(&self) -> Vec<u64> {
        self.files.iter().map(|file| file.size).collect()
    }
}

/// Random files of these sizes, encrypted chunk by chunk.
pub(super) fn bundle(sizes: &[usize]) -> Bundle {
    let key = BundleKey::generate(&mut OsRng);
    let mut files = Vec::new();
    let mut plaintexts = Vec::new();
    let mut sealed = Vec::new();
    for (index, size) in sizes.iter().enumerate() {
        let size = *size;
        let file = ManifestFile::new(
            format!("document-{index}.pdf"),
            "application/pdf".to_owned(),
            size as u64,
            &mut OsRng,
        )
        .expect("a file entry");
        let plaintext = random_bytes(size);
        let index = u32::try_from(index).expect("few files");
        let mut encryptor =
            ChunkEncryptor::new(&key.file_key(index), &file.nonce_prefix, size as u64)
                .expect("an encryptor");
        let mut chunks = Vec::new();
        for chunk in 0..file.chunks as usize {
            let start = chunk * CHUNK_SIZE;
            let end = (start + CHUNK_SIZE).min(size);
            chunks.push(
                encryptor
                    .encrypt_next(&plaintext[start..end])
                    .expect("the chunk encrypts"),
            );
        }
        assert!(encryptor.is_finished());
        files.push(file);
        plaintexts.push(plaintext);
        sealed.push(chunks);
    }
    let manifest = Manifest::new(files.clone(), Some("Please sign page 3".to_owned()))
        .seal(&key, &mut OsRng)
        .expect("the manifest seals");
    Bundle {
        key,
        files,
        plaintexts,
        sealed,
        manifest,
    }
}

/// What the sender hands the recipient (the link with its secret, and the OTP by another
/// channel), and the keys both derive from them.
pub(super) struct Link {
    pub(super) id: Id,
    pub(super) otp: String,
    pub(super) secret: LinkSecret,
    keys: LinkKeys,
    proof: [u8; 32],
}

impl Link {
    /// The link a recipient holds again, from its secret and OTP (and the salt the relay
    /// shows with the link).
    pub(super) fn recover(id: Id, secret: LinkSecret, otp: String, otp_salt: [u8; 16]) -> Link {
        let keys = derive_link_keys(
            &secret,
            &Passphrase::new(otp.clone()),
            &otp_salt,
            &id,
            &KdfParams::CLIENT_V1,
        )
        .expect("the link keys derive");
        let proof = *keys.proof.dangerously_expose_bytes();
        Link {
            id,
            otp,
            secret,
            keys,
            proof,
        }
    }

    /// Draws the link secret, the OTP and its salt for send `id`, derives the link keys once
    /// (argon2id at 64 MiB) and builds the guard the relay gets.
    fn new(id: Id, bundle: &Bundle) -> (Link, wire::LinkGuard) {
        let secret = LinkSecret::generate(&mut OsRng);
        let otp = format!("otp-{}", shared::encoding::encode(&random_bytes(9)));
        let mut otp_salt = [0_u8; 16];
        OsRng.fill_bytes(&mut otp_salt);
        let link = Link::recover(id, secret, otp, otp_salt);
        let wrapped = link.keys.link_key.wrap(&bundle.key, &mut OsRng);
        let guard = wire::LinkGuard::new(
            otp_salt,
            KdfParams::CLIENT_V1,
            &link.keys,
            wrapped,
            &bundle.key.receipt_key(),
        );
        (link, guard)
    }
}

/// A proof that is not the link's: 32 random bytes.
pub(super) fn wrong_proof() -> [u8; 32] {
    let mut proof = [0_u8; 32];
    OsRng.fill_bytes(&mut proof);
    proof
}

/// Every file under `dir`, recursively.
pub(super) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn a_bundle_round_trips_and_a_one_open_link_is_deleted_after_its_receipt() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let sizes = [0, 2 * MIB + 5, MIB];
    let bundle = bundle(&sizes);
    assert_eq!(
        bundle
            .files
            .iter()
            .map(|file| file.chunks)
            .collect::<Vec<_>>(),
        vec![1, 3, 1],
        "an empty file is one empty chunk; exactly 1 MiB is one chunk"
    );
    let link = relay.send(&sender, &bundle, 1, 7 * DAY).await;
    assert!(
        relay.blobs_of(link.id).is_dir(),
        "the ciphertext is stored under blobs/<id>"
    );

    let info = relay.info(link.id).await;
    assert_eq!(info.status(), StatusCode::OK);
    let info: wire::LinkInfo = serde_json::from_value(json(info).await).expect("link info");
    assert_eq!(info.id, link.id);
    assert_eq!(info.organisation, "Firm ada-law");
    assert_eq!(info.organisation_handle, "ada-law");
    assert!(info.organisation_verified);
    assert_eq!(info.expires_at, START + 7 * DAY);
    assert_eq!(info.opens_left, 1);
    assert_eq!(info.attempts_left, 5);
    assert_eq!(info.files, 3);
    assert_eq!(info.size, (3 * MIB + 5) as u64);
    assert_eq!(info.kdf, KdfParams::CLIENT_V1);

    let opened = relay.open_ok(&link).await;
    assert_eq!(opened.token_expires_at, START + 120 * 60);
    assert_eq!(
        relay.sent(&sender, link.id).await.status,
        wire::SendStatus::Opened
    );
    let (key, manifest, plaintexts) = relay.receive(&link, &opened).await;
    assert_eq!(manifest.note.as_deref(), Some("Please sign page 3"));
    assert_eq!(
        manifest
            .files
            .iter()
            .map(|file| (file.name.as_str(), file.size))
            .collect::<Vec<_>>(),
        vec![
            ("document-0.pdf", 0),
            ("document-1.pdf", (2 * MIB + 5) as u64),
            ("document-2.pdf", MIB as u64),
        ]
    );
    assert!(
        plaintexts == bundle.plaintexts,
        "the decrypted files are identical to the originals"
    );

    let receipt = key.receipt_key().receipt(&link.id, &opened.receipt_nonce);
    let answer = relay
        .receipt(link.id, opened.download_token.dangerously_expose(), receipt)
        .await;
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    let view = relay.sent(&sender, link.id).await;
    assert_eq!(view.status, wire::SendStatus::Delivered);
    assert_eq!(view.opens, 1);
    assert_eq!(view.delivered_at, Some(START));
    assert_eq!(view.files, 3);
    assert_eq!(view.size, (3 * MIB + 5) as u64);

    assert!(
        !relay.blobs_of(link.id).exists(),
        "every open spent and receipted: the ciphertext is gone at once"
    );
    let stored = relay.stored(link.id);
    assert!(
        stored.ciphertext_deleted,
        "the record says the ciphertext is gone"
    );
    let again = relay.open(None, link.id, &link.proof).await;
    expect_error(again, StatusCode::GONE, "used_up").await;
    expect_error(relay.info(link.id).await, StatusCode::GONE, "used_up").await;
    let late = relay
        .download(
            link.id,
            1,
            0,
            Some(opened.download_token.dangerously_expose()),
        )
        .await;
    assert_eq!(late.status(), StatusCode::GONE, "nothing left to download");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_correct_openings_of_a_one_open_link_let_exactly_one_through() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[1000]);
    let link = relay.send(&sender, &bundle, 1, DAY).await;

    let mut openings = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let router = relay.router.clone();
        let request = open_request(None, link.id, &link.proof);
        openings.spawn(async move {
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            (status, json(response).await)
        });
    }
    let mut opened = 0;
    let mut used_up = 0;
    while let Some(answer) = openings.join_next().await {
        let (status, body) = answer.expect("the task ran");
        match status {
            StatusCode::OK => opened += 1,
            StatusCode::GONE if body["code"] == "used_up" => used_up += 1,
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    assert_eq!((opened, used_up), (1, 49));
    let stored = relay.stored(link.id);
    assert_eq!(stored.opens, 1);
    assert_eq!(stored.tokens.len(), 1, "one download token was issued");
    assert_eq!(stored.attempts, 0, "a correct proof is never a wrong try");
}

#[tokio::test]
async fn wrong_proofs_count_down_and_the_fifth_destroys_the_link() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[3 * MIB]);
    let link = relay.send(&sender, &bundle, 3, DAY).await;

    for (attempts_left, words) in [
        (4, "4 more tries"),
        (3, "3 more tries"),
        (2, "2 more tries"),
        (1, "1 more try"),
    ] {
        let answer = relay.open(None, link.id, &wrong_proof()).await;
        let body = expect_error(answer, StatusCode::FORBIDDEN, "wrong_otp").await;
        assert!(message(&body).contains(words), "{body}");
        let info: wire::LinkInfo =
            serde_json::from_value(json(relay.info(link.id).await).await).expect("link info");
        assert_eq!(info.attempts_left, attempts_left);
        assert_eq!(info.opens_left, 3, "wrong tries spend no opens");
    }
    assert!(
        relay.blobs_of(link.id).is_dir(),
        "still stored before the last try"
    );

    let last = relay.open(None, link.id, &wrong_proof()).await;
    expect_error(last, StatusCode::GONE, "destroyed").await;
    let right = relay.open(None, link.id, &link.proof).await;
    expect_error(right, StatusCode::GONE, "destroyed").await;
    expect_error(relay.info(link.id).await, StatusCode::GONE, "destroyed").await;
    assert!(
        !relay.blobs_of(link.id).exists(),
        "the ciphertext is deleted"
    );
    let stored = relay.stored(link.id);
    assert!(stored.ciphertext_deleted, "the key material is deleted");
    assert!(stored.tokens.is_empty());
    assert_eq!(stored.attempts, 5);
    assert_eq!(
        relay.sent(&sender, link.id).await.status,
        wire::SendStatus::Destroyed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_wrong_proofs_destroy_the_link_exactly_once() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let org = sender.session.organisation.id;
    let bundle = bundle(&[1000]);
    let link = relay.send(&sender, &bundle, 1, DAY).await;

    let mut openings = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let router = relay.router.clone();
        let request = open_request(None, link.id, &wrong_proof());
        openings.spawn(async move {
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            (status, json(response).await)
        });
    }
    let (mut wrong, mut destroyed) = (0, 0);
    while let Some(answer) = openings.join_next().await {
        let (status, body) = answer.expect("the task ran");
        match status {
            StatusCode::FORBIDDEN if body["code"] == "wrong_otp" => wrong += 1,
            StatusCode::GONE if body["code"] == "destroyed" => destroyed += 1,
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    assert_eq!((wrong, destroyed), (4, 16));
    assert_eq!(
        relay.stored(link.id).attempts,
        5,
        "no try counted twice or lost"
    );
    let destructions = relay
        .audit(org)
        .iter()
        .filter(|(action, _, _)| action == "send.destroy")
        .count();
    assert_eq!(destructions, 1);
    assert!(!relay.blobs_of(link.id).exists());
}

#[tokio::test]
async fn wrong_proofs_count_toward_the_ip_block() {
    let relay = relay_with(|config| config.brute_force.ip_max_failures = 3);
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[10]);
    let first = relay.send(&sender, &bundle, 1, DAY).await;
    let second = relay.send(&sender, &bundle, 1, DAY).await;
    let attacker = Some("203.0.113.9");

    for _ in 0..3 {
        let answer = relay.open(attacker, first.id, &wrong_proof()).await;
        expect_error(answer, StatusCode::FORBIDDEN, "wrong_otp").await;
    }
    let blocked = relay.open(attacker, second.id, &second.proof).await;
    expect_error(blocked, StatusCode::TOO_MANY_REQUESTS, "ip_blocked").await;
    let stored = relay.stored(second.id);
    assert_eq!(
        (stored.opens, stored.attempts),
        (0, 0),
        "a blocked attempt is not even checked"
    );
    let again = relay.open(attacker, first.id, &first.proof).await;
    expect_error(again, StatusCode::TOO_MANY_REQUESTS, "ip_blocked").await;

    let elsewhere = relay
        .open(Some("198.51.100.20"), second.id, &second.proof)
        .await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "only that address is blocked"
    );
    assert_eq!(
        relay.stored(first.id).attempts,
        3,
        "the link itself survives three wrong tries"
    );
}

#[tokio::test]
async fn expired_links_lose_their_ciphertext_on_access_and_by_the_sweep() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let org = sender.session.organisation.id;
    let bundle = bundle(&[MIB + 1]);
    let accessed = relay.send(&sender, &bundle, 1, HOUR).await;
    let swept = relay.send(&sender, &bundle, 1, HOUR).await;

    relay.clock.advance(HOUR - 1);
    assert_eq!(relay.info(accessed.id).await.status(), StatusCode::OK);
    relay.clock.advance(1);
    expect_error(relay.info(accessed.id).await, StatusCode::GONE, "expired").await;
    assert!(!relay.blobs_of(accessed.id).exists(), "deleted on access");
    let stored = relay.stored(accessed.id);
    assert!(stored.ciphertext_deleted);
    let open = relay.open(None, accessed.id, &accessed.proof).await;
    expect_error(open, StatusCode::GONE, "expired").await;
    let expiries = |audit: &[(String, String, Option<String>)], id: Id| {
        audit
            .iter()
            .filter(|(action, _, target)| {
                action == "send.expire" && target.as_deref() == Some(id.to_string().as_str())
            })
            .count()
    };
    assert_eq!(expiries(&relay.audit(org), accessed.id), 1);

    assert!(
        relay.blobs_of(swept.id).is_dir(),
        "nobody asked for the other link yet"
    );
    let report = relay::retention::sweep_sends(&relay.store, &relay.config.sends, relay.now())
        .await
        .expect("sweeps");
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!((report.abandoned, report.purged), (0, 0));
    assert!(!relay.blobs_of(swept.id).exists(), "deleted by the sweep");
    let stored = relay.stored(swept.id);
    assert!(stored.ciphertext_deleted);
    assert_eq!(expiries(&relay.audit(org), swept.id), 1);
    assert_eq!(expiries(&relay.audit(org), accessed.id), 1, "audited once");
    expect_error(relay.info(swept.id).await, StatusCode::GONE, "expired").await;
    let again = relay::retention::sweep_sends(&relay.store, &relay.config.sends, relay.now())
        .await
        .expect("sweeps");
    assert_eq!(again, relay::retention::SendSweep::default());
}

#[tokio::test]
async fn a_sender_revokes_an_unopened_link_but_not_an_opened_one_nor_another_organisations() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let (_, stranger) = relay.sender("bob@example.net", "bob-clinic").await;
    let bundle = bundle(&[2 * MIB]);
    let unopened = relay.send(&sender, &bundle, 2, DAY).await;
    let opened = relay.send(&sender, &bundle, 2, DAY).await;

    let refused = relay.revoke(&stranger, unopened.id).await;
    expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(relay.blobs_of(unopened.id).is_dir());
    assert_eq!(
        relay.sent(&sender, unopened.id).await.status,
        wire::SendStatus::Waiting
    );

    let revoked = relay.revoke(&sender, unopened.id).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let view: wire::SendView = serde_json::from_value(json(revoked).await).expect("a view");
    assert_eq!(view.status, wire::SendStatus::Revoked);
    let body = serde_json::to_value(&view).expect("JSON");
    assert_eq!(body["status"], "revoked");
    assert!(
        !relay.blobs_of(unopened.id).exists(),
        "the ciphertext is deleted"
    );
    assert!(relay.stored(unopened.id).ciphertext_deleted);
    let open = relay.open(None, unopened.id, &unopened.proof).await;
    expect_error(open, StatusCode::GONE, "revoked").await;
    expect_error(relay.info(unopened.id).await, StatusCode::GONE, "revoked").await;
    let twice = relay.revoke(&sender, unopened.id).await;
    expect_error(twice, StatusCode::CONFLICT, "conflict").await;

    relay.open_ok(&opened).await;
    let too_late = relay.revoke(&sender, opened.id).await;
    expect_error(too_late, StatusCode::CONFLICT, "conflict").await;
    assert!(
        relay.blobs_of(opened.id).is_dir(),
        "an opened link keeps its ciphertext"
    );
    assert_eq!(
        relay.sent(&sender, opened.id).await.status,
        wire::SendStatus::Opened
    );
}

#[tokio::test]
async fn chunks_must_match_the_schedule_the_content_type_and_the_size_limit() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[2 * MIB + 5]);
    let id = relay.create_ok(&sender, &bundle.sizes(), 1, DAY).await;
    let first = bundle.sealed[0][0].as_bytes().to_vec();
    assert_eq!(first.len(), MIB + TAG);

    let short = relay
        .put_chunk(&sender, id, 0, 0, first[..first.len() - 1].to_vec())
        .await;
    let body = expect_error(short, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert!(message(&body).contains(&format!("{}", MIB + TAG)), "{body}");
    let last_too_short = relay
        .put_chunk(&sender, id, 0, 2, vec![0; 5 + TAG - 1])
        .await;
    expect_error(last_too_short, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    let last_too_long = relay
        .put_chunk(&sender, id, 0, 2, vec![0; 5 + TAG + 1])
        .await;
    expect_error(
        last_too_long,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    let beyond = relay.put_chunk(&sender, id, 0, 3, first.clone()).await;
    expect_error(beyond, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    let no_such_file = relay.put_chunk(&sender, id, 1, 0, first.clone()).await;
    expect_error(no_such_file, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;

    let path = format!("/api/sends/{id}/files/0/chunks/0");
    let as_json = relay
        .put_raw(
            &sender,
            &path,
            Some("application/json"),
            true,
            first.clone(),
        )
        .await;
    expect_error(as_json, StatusCode::BAD_REQUEST, "bad_request").await;
    let untyped = relay
        .put_raw(&sender, &path, None, true, first.clone())
        .await;
    expect_error(untyped, StatusCode::BAD_REQUEST, "bad_request").await;

    let huge = random_bytes(2 * MIB);
    let declared = relay
        .put_raw(
            &sender,
            &path,
            Some("application/octet-stream"),
            true,
            huge.clone(),
        )
        .await;
    expect_error(declared, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let streamed = relay
        .put_raw(
            &sender,
            &path,
            Some("application/octet-stream"),
            false,
            huge,
        )
        .await;
    expect_error(streamed, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(
        relay
            .store
            .chunk_len(id, 0, 0)
            .await
            .expect("reads")
            .is_none(),
        "nothing refused was stored"
    );

    let right = relay.put_chunk(&sender, id, 0, 0, first.clone()).await;
    assert_eq!(right.status(), StatusCode::NO_CONTENT);
    let retried = relay.put_chunk(&sender, id, 0, 0, first).await;
    assert_eq!(
        retried.status(),
        StatusCode::NO_CONTENT,
        "a retry replaces the chunk"
    );
}

#[tokio::test]
async fn finalizing_needs_every_chunk_and_an_unfinished_upload_does_not_exist_for_recipients() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[2 * MIB + 5, 7]);
    let id = relay.create_ok(&sender, &bundle.sizes(), 1, DAY).await;
    for chunk in 0..2 {
        let sealed = bundle.sealed[0][chunk as usize].as_bytes().to_vec();
        let answer = relay.put_chunk(&sender, id, 0, chunk, sealed).await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    }
    let (link, guard) = Link::new(id, &bundle);
    let early = relay.finalize(&sender, id, guard.clone(), &bundle).await;
    let body = expect_error(early, StatusCode::CONFLICT, "conflict").await;
    assert!(message(&body).contains("chunk 2 of file 0"), "{body}");
    assert_eq!(
        relay.sent(&sender, id).await.status,
        wire::SendStatus::Uploading
    );
    expect_error(relay.info(id).await, StatusCode::NOT_FOUND, "not_found").await;
    let open = relay.open(None, id, &link.proof).await;
    expect_error(open, StatusCode::NOT_FOUND, "not_found").await;
    let download = relay.download(id, 0, 0, Some("anything")).await;
    expect_error(download, StatusCode::NOT_FOUND, "not_found").await;

    relay.upload(&sender, id, &bundle).await;
    let finalized = relay.finalize(&sender, id, guard.clone(), &bundle).await;
    assert_eq!(finalized.status(), StatusCode::OK);
    assert_eq!(relay.info(id).await.status(), StatusCode::OK);
    let twice = relay.finalize(&sender, id, guard, &bundle).await;
    expect_error(twice, StatusCode::CONFLICT, "conflict").await;
    let late_chunk = relay
        .put_chunk(&sender, id, 1, 0, bundle.sealed[1][0].as_bytes().to_vec())
        .await;
    expect_error(late_chunk, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn unknown_ids_answer_404_and_malformed_ids_a_json_400() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let unknown = Id::generate(&mut OsRng);
    let body = expect_error(
        relay.info(unknown).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        message(&body).contains("does not exist"),
        "an unknown link is not an unknown route: {body}"
    );
    let open = relay.open(None, unknown, &wrong_proof()).await;
    expect_error(open, StatusCode::NOT_FOUND, "not_found").await;
    let chunk = relay.put_chunk(&sender, unknown, 0, 0, vec![0; 17]).await;
    expect_error(chunk, StatusCode::NOT_FOUND, "not_found").await;
    let download = relay.download(unknown, 0, 0, Some("token")).await;
    expect_error(download, StatusCode::NOT_FOUND, "not_found").await;
    let revoke = relay.revoke(&sender, unknown).await;
    expect_error(revoke, StatusCode::NOT_FOUND, "not_found").await;
    let receipt = relay.receipt(unknown, "token", [0; 32]).await;
    expect_error(receipt, StatusCode::NOT_FOUND, "not_found").await;

    let info = relay
        .call(Method::GET, "/api/links/not-an-id", None, None)
        .await;
    expect_error(info, StatusCode::BAD_REQUEST, "bad_request").await;
    let open = relay
        .call(
            Method::POST,
            "/api/links/AAAA/open",
            None,
            Some(serde_json::json!({ "proof": shared::encoding::encode(&[0; 32]) })),
        )
        .await;
    expect_error(open, StatusCode::BAD_REQUEST, "bad_request").await;
    let chunk = relay
        .put_raw(
            &sender,
            "/api/sends/not-an-id/files/0/chunks/0",
            Some("application/octet-stream"),
            true,
            vec![0; 17],
        )
        .await;
    expect_error(chunk, StatusCode::BAD_REQUEST, "bad_request").await;
    let index = relay
        .put_raw(
            &sender,
            &format!("/api/sends/{unknown}/files/first/chunks/0"),
            Some("application/octet-stream"),
            true,
            vec![0; 17],
        )
        .await;
    expect_error(index, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn creating_a_send_checks_expiry_opens_and_bundle_size() {
    let relay = relay_with(|config| config.sends.max_bundle_bytes = 2 * MIB as u64);
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;

    for expires in [HOUR - 1, 0, -HOUR, 120 * DAY + 1] {
        let answer = relay.create(&sender, &[10], 1, expires).await;
        let body = expect_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
        assert!(message(&body).contains("expiry"), "{body}");
    }
    for expires in [HOUR, 120 * DAY] {
        let answer = relay.create(&sender, &[10], 1, expires).await;
        assert_eq!(
            answer.status(),
            StatusCode::OK,
            "{expires} seconds is allowed"
        );
    }
    for opens in [0, 101] {
        let answer = relay.create(&sender, &[10], opens, DAY).await;
        expect_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    }
    let no_files = relay.create(&sender, &[], 1, DAY).await;
    expect_error(no_files, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;

    // Two files of 1 MiB are 2 MiB + 2 tags once encrypted: over the limit by 32 bytes.
    let too_big = relay
        .create(&sender, &[MIB as u64, MIB as u64], 1, DAY)
        .await;
    let body = expect_error(too_big, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
    assert!(message(&body).contains(&(2 * MIB).to_string()), "{body}");
    let fits = relay
        .create(&sender, &[MIB as u64, (MIB - 2 * TAG) as u64], 1, DAY)
        .await;
    assert_eq!(
        fits.status(),
        StatusCode::OK,
        "exactly the limit is allowed"
    );
}

#[tokio::test]
async fn a_pending_organisation_cannot_create_a_send() {
    let relay = relay();
    let owner = account("ada@example.com", "a long enough password");
    let pending = relay.signup(&owner, "ada-law").await;
    assert_eq!(
        pending.session.organisation.status,
        wire::OrgStatus::Pending
    );
    let answer = relay.create(&pending, &[10], 1, DAY).await;
    let body = expect_error(answer, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(message(&body).contains("verification"), "{body}");
    assert!(relay.store.sends().expect("reads").is_empty());

    relay.verify("ada-law");
    let answer = relay.create(&pending, &[10], 1, DAY).await;
    assert_eq!(answer.status(), StatusCode::OK, "verified, it may send");
}

#[tokio::test]
async fn the_organisation_quota_counts_stored_and_reserved_ciphertext() {
    // Room for one 2 MiB file (2 MiB + 2 tags) and a little more, not for two.
    let relay = relay_with(|config| config.sends.org_quota_bytes = 3 * MIB as u64);
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[2 * MIB]);
    let first = relay.send(&sender, &bundle, 1, DAY).await;

    let reserved = relay.create_ok(&sender, &[(MIB / 2) as u64], 1, DAY).await;
    let full = relay.create(&sender, &[MIB as u64], 1, DAY).await;
    let body = expect_error(full, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded").await;
    assert!(message(&body).contains(&(3 * MIB).to_string()), "{body}");

    let revoked = relay.revoke(&sender, reserved).await;
    assert_eq!(
        revoked.status(),
        StatusCode::OK,
        "an upload can be abandoned"
    );
    let still_full = relay.create(&sender, &[MIB as u64], 1, DAY).await;
    expect_error(
        still_full,
        StatusCode::INSUFFICIENT_STORAGE,
        "quota_exceeded",
    )
    .await;
    let revoked = relay.revoke(&sender, first.id).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let room_again = relay.create(&sender, &[MIB as u64], 1, DAY).await;
    assert_eq!(
        room_again.status(),
        StatusCode::OK,
        "revoking freed the space"
    );

    let (_, other) = relay.sender("bob@example.net", "bob-clinic").await;
    let elsewhere = relay.create(&other, &[2 * MIB as u64], 1, DAY).await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "quotas are per organisation"
    );
}

#[tokio::test]
async fn downloads_need_a_live_token_from_an_opening() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[MIB + 3]);
    let link = relay.send(&sender, &bundle, 1, 3 * DAY).await;
    let opened = relay.open_ok(&link).await;

    let anonymous = relay.download(link.id, 0, 0, None).await;
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let forged = shared::encoding::encode(&random_bytes(32));
    let wrong = relay.download(link.id, 0, 0, Some(&forged)).await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let not_bearer = relay
        .send_request(
            Request::builder()
                .uri(format!("/api/links/{}/files/0/chunks/0", link.id))
                .header(
                    header::AUTHORIZATION,
                    opened.download_token.dangerously_expose(),
                )
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    expect_error(not_bearer, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let other = relay.send(&sender, &bundle, 1, 3 * DAY).await;
    let elsewhere = relay
        .download(
            other.id,
            0,
            0,
            Some(opened.download_token.dangerously_expose()),
        )
        .await;
    expect_error(elsewhere, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let beyond = relay
        .download(
            link.id,
            0,
            2,
            Some(opened.download_token.dangerously_expose()),
        )
        .await;
    expect_error(beyond, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;

    assert_eq!(opened.token_expires_at, START + 120 * 60);
    relay.clock.advance(120 * 60 - 1);
    let (_, _, plaintexts) = relay.receive(&link, &opened).await;
    assert!(
        plaintexts == bundle.plaintexts,
        "still valid a second before"
    );
    relay.clock.advance(1);
    let lapsed = relay
        .download(
            link.id,
            0,
            0,
            Some(opened.download_token.dangerously_expose()),
        )
        .await;
    expect_error(lapsed, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_tampered_stored_chunk_is_served_but_fails_decryption() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[MIB + 3]);
    let link = relay.send(&sender, &bundle, 1, DAY).await;
    let path = relay.store.chunk_path(link.id, 0, 0);
    let mut stored = std::fs::read(&path).expect("the chunk is a file");
    stored[1000] ^= 0x01;
    std::fs::write(&path, &stored).expect("tampers");

    let opened = relay.open_ok(&link).await;
    let key = link
        .keys
        .link_key
        .unwrap(&opened.wrapped_key)
        .expect("unwraps");
    let manifest = Manifest::open(&key, &opened.manifest).expect("opens");
    let file = &manifest.files[0];
    let mut decryptor =
        ChunkDecryptor::new(&key.file_key(0), &file.nonce_prefix, file.size).expect("decryptor");
    let served = relay
        .download_ok(link.id, 0, 0, opened.download_token.dangerously_expose())
        .await;
    assert_eq!(
        served.as_bytes(),
        stored.as_slice(),
        "the relay serves what it stores"
    );
    let refused = decryptor.decrypt_next(&served);
    assert_eq!(
        refused.map(|plaintext| plaintext.len()),
        Err(StreamError::Tampered { index: 0 })
    );
}

#[tokio::test]
async fn unfinished_uploads_are_deleted_by_the_sweep() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let org = sender.session.organisation.id;
    let bundle = bundle(&[2 * MIB]);
    let unfinished = relay.create_ok(&sender, &bundle.sizes(), 1, 7 * DAY).await;
    let sealed = bundle.sealed[0][0].as_bytes().to_vec();
    let answer = relay.put_chunk(&sender, unfinished, 0, 0, sealed).await;
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    let finished = relay.send(&sender, &bundle, 1, 7 * DAY).await;
    assert!(relay.blobs_of(unfinished).is_dir());

    let hours = i64::from(relay.config.sends.unfinished_upload_hours);
    assert_eq!(hours, 24);
    let early =
        relay::retention::sweep_sends(&relay.store, &relay.config.sends, START + hours * HOUR - 1)
            .await
            .expect("sweeps");
    assert_eq!(early, relay::retention::SendSweep::default());
    assert!(relay.store.send(unfinished).expect("reads").is_some());

    let report =
        relay::retention::sweep_sends(&relay.store, &relay.config.sends, START + hours * HOUR)
            .await
            .expect("sweeps");
    assert_eq!(report.abandoned, 1, "{report:?}");
    assert_eq!((report.expired, report.purged), (0, 0));
    assert!(
        relay.store.send(unfinished).expect("reads").is_none(),
        "the record is gone"
    );
    assert!(!relay.blobs_of(unfinished).exists(), "the chunks are gone");
    assert!(
        relay.blobs_of(finished.id).is_dir(),
        "a finalized link is kept"
    );
    assert!(relay.store.send(finished.id).expect("reads").is_some());
    assert!(relay.audit(org).iter().any(|(action, _, target)| {
        action == "send.abandon" && target.as_deref() == Some(unfinished.to_string().as_str())
    }));
}

#[tokio::test]
async fn a_used_up_link_never_receipted_loses_its_ciphertext_once_its_token_lapses() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let org = sender.session.organisation.id;
    let bundle = bundle(&[10]);
    let link = relay.send(&sender, &bundle, 1, 7 * DAY).await;
    let opened = relay.open_ok(&link).await;
    let sweep = |now| relay::retention::sweep_sends(&relay.store, &relay.config.sends, now);

    let early = sweep(opened.token_expires_at - 1).await.expect("sweeps");
    assert_eq!(early, relay::retention::SendSweep::default());
    assert!(
        relay.blobs_of(link.id).is_dir(),
        "the token still allows downloads"
    );

    let report = sweep(opened.token_expires_at).await.expect("sweeps");
    assert_eq!(report.purged, 1, "{report:?}");
    assert_eq!((report.expired, report.abandoned), (0, 0));
    assert!(!relay.blobs_of(link.id).exists(), "the ciphertext is gone");
    let stored = relay.stored(link.id);
    assert!(
        stored.ciphertext_deleted,
        "the record says the ciphertext is gone"
    );
    assert_eq!(
        relay.sent(&sender, link.id).await.status,
        wire::SendStatus::Opened
    );
    assert!(relay.audit(org).iter().any(|(action, _, target)| {
        action == "send.purge" && target.as_deref() == Some(link.id.to_string().as_str())
    }));
}

#[tokio::test]
async fn a_wrong_receipt_is_refused_and_changes_nothing() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[10]);
    let link = relay.send(&sender, &bundle, 1, DAY).await;
    let opened = relay.open_ok(&link).await;

    let forged = relay
        .receipt(
            link.id,
            opened.download_token.dangerously_expose(),
            wrong_proof(),
        )
        .await;
    expect_error(forged, StatusCode::FORBIDDEN, "forbidden").await;
    let wrong_nonce = bundle.key.receipt_key().receipt(&link.id, &[0; 16]);
    let replayed = relay
        .receipt(
            link.id,
            opened.download_token.dangerously_expose(),
            wrong_nonce,
        )
        .await;
    expect_error(replayed, StatusCode::FORBIDDEN, "forbidden").await;
    let right = bundle
        .key
        .receipt_key()
        .receipt(&link.id, &opened.receipt_nonce);
    let no_token = relay.receipt(link.id, "not-the-token", right).await;
    expect_error(no_token, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let view = relay.sent(&sender, link.id).await;
    assert_eq!(view.status, wire::SendStatus::Opened);
    assert_eq!(view.delivered_at, None);
    assert!(
        relay.blobs_of(link.id).is_dir(),
        "the ciphertext is still there"
    );
    let (_, _, plaintexts) = relay.receive(&link, &opened).await;
    assert!(plaintexts == bundle.plaintexts, "still downloadable");

    let answer = relay
        .receipt(link.id, opened.download_token.dangerously_expose(), right)
        .await;
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        relay.sent(&sender, link.id).await.status,
        wire::SendStatus::Delivered
    );
}

#[tokio::test]
async fn the_audit_log_records_every_step_and_nothing_stored_holds_the_otp_or_link_secret() {
    let relay = relay();
    let (owner, sender) = relay.sender("ada@example.com", "ada-law").await;
    let bundle = bundle(&[MIB + 10]);
    let delivered = relay.send(&sender, &bundle, 1, DAY).await;
    let destroyed = relay.send(&sender, &bundle, 1, DAY).await;
    let revoked = relay.send(&sender, &bundle, 1, DAY).await;
    let expired = relay.send(&sender, &bundle, 1, HOUR).await;
    // Still waiting at the end, so its chunk files are searched too.
    let waiting = relay.send(&sender, &bundle, 1, DAY).await;
    let links = [&delivered, &destroyed, &revoked, &expired, &waiting];

    let wrong = relay.open(None, delivered.id, &wrong_proof()).await;
    expect_error(wrong, StatusCode::FORBIDDEN, "wrong_otp").await;
    let opened = relay.open_ok(&delivered).await;
    let (key, _, _) = relay.receive(&delivered, &opened).await;
    let receipt = key
        .receipt_key()
        .receipt(&delivered.id, &opened.receipt_nonce);
    let answer = relay
        .receipt(
            delivered.id,
            opened.download_token.dangerously_expose(),
            receipt,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    for _ in 0..5 {
        relay.open(None, destroyed.id, &wrong_proof()).await;
    }
    assert_eq!(
        relay.revoke(&sender, revoked.id).await.status(),
        StatusCode::OK
    );
    relay.clock.advance(HOUR);
    expect_error(relay.info(expired.id).await, StatusCode::GONE, "expired").await;

    // The session went idle meanwhile: the owner logs in again to read the log.
    let owner_login = relay.log_in(&owner).await;
    let response = relay
        .call(Method::GET, "/api/org/audit", Some(&owner_login), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let entries: Vec<wire::AuditEntryView> =
        serde_json::from_value(json(response).await).expect("audit entries");
    let has = |action: &str, outcome: &str, link: &Link| {
        entries.iter().any(|entry| {
            entry.action == action
                && entry.outcome == outcome
                && entry.target.as_deref() == Some(link.id.to_string().as_str())
        })
    };
    for link in links {
        assert!(
            has("send.create", "success", link),
            "send.create {}",
            link.id
        );
    }
    assert!(has("send.open", "failure", &delivered));
    assert!(has("send.open", "success", &delivered));
    assert!(has("send.receipt", "success", &delivered));
    assert!(has("send.open", "failure", &destroyed));
    assert!(has("send.destroy", "success", &destroyed));
    assert!(has("send.revoke", "success", &revoked));
    assert!(has("send.expire", "success", &expired));
    let opens = entries
        .iter()
        .filter(|entry| {
            entry.action == "send.open" && entry.target == Some(destroyed.id.to_string())
        })
        .count();
    assert_eq!(
        opens, 5,
        "every wrong try on the destroyed link is recorded"
    );
    let creator = sender.session.user.id;
    assert!(
        entries
            .iter()
            .filter(|entry| entry.action == "send.create")
            .all(|entry| entry.actor_kind == "user" && entry.actor_id == Some(creator))
    );
    assert!(
        entries
            .iter()
            .filter(|entry| entry.action == "send.open")
            .all(|entry| entry.actor_kind == "anonymous")
    );
    assert_eq!(
        relay.store.audit_verify().expect("reads").map(|n| n > 0),
        Ok(true),
        "the chain verifies"
    );

    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for link in links {
        needles.push((format!("OTP of {}", link.id), link.otp.as_bytes().to_vec()));
        let fragment = link.secret.to_fragment();
        needles.push((
            format!("link secret of {}", link.id),
            fragment.as_bytes().to_vec(),
        ));
        needles.push((
            format!("raw link secret of {}", link.id),
            link.secret.dangerously_expose_bytes().to_vec(),
        ));
        needles.push((
            format!("proof of {}", link.id),
            shared::encoding::encode(&link.proof).into_bytes(),
        ));
        needles.push((format!("raw proof of {}", link.id), link.proof.to_vec()));
    }
    let log = serde_json::to_string(&entries).expect("JSON");
    for (what, needle) in &needles {
        assert!(
            !contains(log.as_bytes(), needle),
            "the audit log holds the {what}"
        );
    }
    relay.store.flush().await.expect("flushes");
    let files = files_under(relay.dir.path());
    assert!(
        files
            .iter()
            .any(|file| file.starts_with(relay.dir.path().join("blobs"))),
        "the search covers the chunk files too"
    );
    let mut hits = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).expect("a readable file");
        for (what, needle) in &needles {
            if contains(&bytes, needle) {
                hits.push(format!("{what} in {}", file.display()));
            }
        }
    }
    assert!(hits.is_empty(), "secrets stored: {hits:?}");
}
