//! Storage under pressure: uploads from strangers (portal drops from five addresses) never
//! stop a firm's own sending; chunks that arrive after their bundle was revoked do not outlive
//! it; key material that was shredded (a link used up, destroyed, revoked or expired; a
//! transfer withdrawn) is in no file of the data directory, raw or encoded; a full disk
//! answers 507 (or 503) and never spends an open without handing out its key; and of 1,000
//! simultaneous openings of a one-time link exactly one wins. The chunks an interrupted upload
//! stored are listed to its sender (a chunk cut short is not).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::Value;
use shared::crypto::StreamLayout;
use shared::ids::Id;
use shared::wire;
use tests::TestRelay;
use tests::native::{KeyPair, NativeClient, OtpFixture, Outgoing};
use tower::ServiceExt as _;

use crate::{Held, files_under, json};

const MIB: u64 = 1024 * 1024;

/// A request to `router` in this process: the status and JSON body of the answer.
async fn call(
    router: &axum::Router,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(body.map_or_else(Body::empty, Body::from))
        .unwrap_or_else(|error| panic!("a request: {error}"));
    let response = router
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let status = response.status().as_u16();
    let bytes = crate::collect(response.into_body()).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_drops_from_five_addresses_cannot_make_the_firms_own_send_answer_507()
-> anyhow::Result<()> {
    let relay = TestRelay::start_with(|config| {
        config.brute_force.trusted_proxies =
            vec![std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)];
        config.sends.org_quota_bytes = 8 * MIB;
        config.portal.max_bundle_bytes = 3 * MIB;
        config.anonymous.unfinished_bytes_per_address = 5 * MIB;
        config.anonymous.unfinished_bytes_per_org = 12 * MIB;
        config.anonymous.stored_bytes_per_org = 16 * MIB;
    })
    .await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "intake").await?;
    owner
        .put(
            "/api/org/portal",
            &wire::PortalSettings {
                enabled: true,
                intake: Vec::new(),
            },
        )
        .await?
        .ok::<wire::PortalSettings>()?;
    let stranger = NativeClient::anonymous(&relay.url);
    let (mut reserved, mut refused) = (0, std::collections::BTreeMap::<String, usize>::new());
    for address in 1..=5 {
        let forwarded = format!("198.51.100.{address}");
        for _ in 0..4 {
            let answer = stranger
                .post_with(
                    "/api/portal/intake/drops",
                    &wire::NewDocumentRequest {
                        files: vec![2 * MIB],
                    },
                    &[("x-forwarded-for", forwarded.as_str())],
                )
                .await?;
            match answer.status {
                200 => reserved += 1,
                429 | 507 => *refused.entry(answer.code().to_owned()).or_default() += 1,
                _ => anyhow::bail!("unexpected {answer:?}"),
            }
        }
    }
    assert!(reserved > 0, "strangers may drop files");
    assert!(
        refused.contains_key("rate_limited") && refused.contains_key("intake_full"),
        "per-address and per-organisation allowances both held: {refused:?}"
    );
    // The firm's own send of 7 MiB fits its 8 MiB however much strangers reserved.
    let link = owner
        .send_files(&[vec![42_u8; 7 * MIB as usize]], 1, None)
        .await?;
    let opened = NativeClient::anonymous(&relay.url)
        .open_link(&link, &link.otp)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(opened, link.plaintexts);
    Ok(())
}

/// What an interrupted upload resumes from: the relay lists the chunks it holds whole (a chunk
/// cut short does not count), only to the sender, and only while the send is uploading.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_lists_the_chunks_an_interrupted_upload_has_stored() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "resume").await?;
    let stranger = NativeClient::verified_owner(&relay.url, relay.data_dir(), "other").await?;
    let size = 3 * MIB - 5;
    let created: wire::CreateSendResponse = owner.reserve_send(vec![size, 10]).await?.ok()?;
    let layout = StreamLayout::for_size(size)?;
    let router = relay::app(relay.state().clone());
    let mut headers = owner.session_headers();
    headers.retain(|(name, _)| *name == "cookie" || *name == "x-csrf-token");
    for chunk in [0, 2] {
        let mut request = Request::builder()
            .method(Method::PUT)
            .uri(format!("/api/sends/{}/files/0/chunks/{chunk}", created.id))
            .header("content-type", "application/octet-stream");
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let answer = router
            .clone()
            .oneshot(request.body(Body::from(vec![7_u8; layout.sealed_len(chunk)]))?)
            .await?;
        assert_eq!(answer.status(), 204);
    }
    // Chunk 1 cut short on disk, as a crash mid-write could leave it: not counted.
    let folder = relay.data_dir().join("blobs").join(created.id.to_string());
    std::fs::write(folder.join("0-1"), vec![7_u8; 100])?;
    let path = format!("/api/sends/{}/chunks", created.id);
    let stored: wire::StoredChunks = owner.get(&path).await?.ok()?;
    assert_eq!(stored.files, vec![vec![0, 2], vec![]]);
    assert_eq!(stranger.get(&path).await?.status, 403);
    assert_eq!(
        NativeClient::anonymous(&relay.url).get(&path).await?.status,
        401
    );
    let revoked = owner
        .post::<()>(&format!("/api/sends/{}/revoke", created.id), None)
        .await?;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(owner.get(&path).await?.status, 409);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_during_fifty_chunk_uploads_leaves_no_blob_on_disk() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "late").await?;
    let size = 50 * MIB - 1;
    let created: wire::CreateSendResponse = owner.reserve_send(vec![size]).await?.ok()?;
    let layout = StreamLayout::for_size(size)?;
    assert_eq!(layout.chunk_count(), 50);
    let router = relay::app(relay.state().clone());
    let mut headers = owner.session_headers();
    headers.retain(|(name, _)| *name == "cookie" || *name == "x-csrf-token");
    let mut held = Vec::new();
    for chunk in 0..50 {
        let mut upload = Held::send_to(
            router.clone(),
            Method::PUT,
            &format!("/api/sends/{}/files/0/chunks/{chunk}", created.id),
            &headers,
            "application/octet-stream",
            vec![7_u8; layout.sealed_len(chunk)],
        );
        upload.loaded().await;
        held.push(upload);
    }
    let revoked = owner
        .post::<()>(&format!("/api/sends/{}/revoke", created.id), None)
        .await?;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for upload in held {
        *statuses.entry(upload.finish().await.0).or_default() += 1;
    }
    assert_eq!(statuses.get(&410), Some(&50), "{statuses:?}");
    let folder = relay.data_dir().join("blobs").join(created.id.to_string());
    assert!(
        !folder.exists(),
        "nothing of the revoked bundle is on disk: {:?}",
        files_under(&folder)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_what_a_failed_or_interrupted_deletion_left_behind() -> anyhow::Result<()>
{
    let relay = TestRelay::start().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "leftovers").await?;
    let otp = OtpFixture::new("leftover-otp-3")?;
    let files = [b"left behind".to_vec()];
    let revoked = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let used = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let kept = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let blobs = relay.data_dir().join("blobs");
    let keys_of_used = std::fs::read(blobs.join(used.id.to_string()).join("keys"))?;
    let answer = owner
        .post::<()>(&format!("/api/sends/{}/revoke", revoked.id), None)
        .await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    let opened = NativeClient::anonymous(&relay.url)
        .open_with_otp(&used, &otp, false)
        .await?;
    assert_eq!(opened.status, 200, "{opened:?}");
    // As if the deletions had failed (or a power cut had brought the entries back), and a
    // folder of a bundle that never existed.
    std::fs::create_dir_all(blobs.join(revoked.id.to_string()))?;
    std::fs::write(blobs.join(revoked.id.to_string()).join("0-0"), b"late")?;
    std::fs::write(blobs.join(used.id.to_string()).join("keys"), &keys_of_used)?;
    let stranger = Id::from_bytes([0x5a; 16]);
    std::fs::create_dir_all(blobs.join(stranger.to_string()))?;

    let report = relay::retention::sweep_folders(&relay.state().store).await?;
    assert_eq!((report.folders, report.keys), (2, 1), "{report:?}");
    assert!(!blobs.join(revoked.id.to_string()).exists());
    assert!(!blobs.join(stranger.to_string()).exists());
    assert!(!blobs.join(used.id.to_string()).join("keys").exists());
    assert!(
        blobs.join(used.id.to_string()).join("receipt").exists(),
        "a used-up link keeps its receipt key and chunks until its downloads end"
    );
    let opened = NativeClient::anonymous(&relay.url)
        .open_link_with_otp(&kept, &otp)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(opened, kept.plaintexts, "a live bundle is left alone");
    Ok(())
}

/// What of a bundle's key material the relay keeps, read from its bundle folder, as needles.
fn key_material(data_dir: &std::path::Path, id: Id, receipt: bool) -> anyhow::Result<Vec<Vec<u8>>> {
    let folder = data_dir.join("blobs").join(id.to_string());
    let keys: Value = serde_json::from_slice(&std::fs::read(folder.join("keys"))?)?;
    let mut needles = Vec::new();
    let mut collect = |value: &Value| -> anyhow::Result<()> {
        if let Some(text) = value.as_str() {
            needles.push(shared::encoding::decode(text)?);
        }
        Ok(())
    };
    for field in ["verifier", "wrapped_key", "manifest", "link_wrapped_key"] {
        collect(&keys[field])?;
    }
    for reader in keys["readers"].as_array().cloned().unwrap_or_default() {
        collect(&reader["wrapped_key"])?;
    }
    if receipt {
        needles.push(std::fs::read(folder.join("receipt"))?);
    }
    anyhow::ensure!(!needles.is_empty(), "no key material found for {id}");
    Ok(needles)
}

/// Every file of the data directory that holds a needle, raw or encoded.
fn holding(data_dir: &std::path::Path, needles: &[Vec<u8>]) -> Vec<String> {
    let mut found = Vec::new();
    for path in files_under(data_dir) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in needles {
            let forms = [
                needle.clone(),
                url_safe(needle).into_bytes(),
                standard(needle).into_bytes(),
                hex::encode(needle).into_bytes(),
            ];
            if forms.iter().any(|form| contains(&bytes, form)) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|part| part == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shredded_key_material_is_in_no_file_of_the_data_directory() -> anyhow::Result<()> {
    let (clock, hand) = relay::Clock::manual(1_800_000_000);
    let relay = TestRelay::start_with_clock(|_| {}, clock).await?;
    let data_dir = relay.data_dir().to_path_buf();
    let owner = NativeClient::verified_owner(&relay.url, &data_dir, "shred").await?;
    let other =
        NativeClient::verified_owner_with(&relay.url, &data_dir, "shred-other", KeyPair::Bob)
            .await?;
    let otp = OtpFixture::new("shred-otp-1")?;
    let anyone = NativeClient::anonymous(&relay.url);
    let files = [b"content that must go".to_vec(), vec![3_u8; 1_200_000]];

    let used = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let destroyed = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let revoked = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let expired = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let chart = Outgoing::new(vec![vec![1_u8; 20], vec![2_u8; 30]]);
    let transfer: wire::DocumentCreated = owner
        .post(
            "/api/transfers",
            Some(&wire::TransferRequest {
                to: "shred-other".to_owned(),
                files: chart.sizes(),
            }),
        )
        .await?
        .ok()?;
    let uploaded = owner.upload_document(&transfer, &chart, None).await?;
    assert_eq!(uploaded.status, 200, "{uploaded:?}");
    drop(other);

    let mut cases = vec![
        ("used up", key_material(&data_dir, used.id, false)?),
        ("destroyed", key_material(&data_dir, destroyed.id, true)?),
        ("revoked", key_material(&data_dir, revoked.id, true)?),
        ("expired", key_material(&data_dir, expired.id, true)?),
        ("withdrawn", key_material(&data_dir, transfer.id, false)?),
    ];
    for (what, needles) in &cases {
        assert!(
            !holding(&data_dir, needles).is_empty(),
            "the search finds the {what} bundle's keys while they are kept"
        );
    }

    let opened = anyone.open_with_otp(&used, &otp, false).await?;
    assert_eq!(opened.status, 200, "{opened:?}");
    for _ in 0..5 {
        anyone.open_with_otp(&destroyed, &otp, true).await?;
    }
    assert_eq!(
        anyone
            .get(&format!("/api/links/{}", destroyed.id))
            .await?
            .code(),
        "destroyed"
    );
    let answer = owner
        .post::<()>(&format!("/api/sends/{}/revoke", revoked.id), None)
        .await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = owner
        .post::<()>(&format!("/api/documents/{}/revoke", transfer.id), None)
        .await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    hand.advance(86_400 + 1);
    assert_eq!(
        anyone
            .get(&format!("/api/links/{}", expired.id))
            .await?
            .code(),
        "expired"
    );

    for (what, needles) in cases.drain(..) {
        let found = holding(&data_dir, &needles);
        assert!(
            found.is_empty(),
            "the {what} bundle's key material is still in {found:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_and_spends_no_open_without_its_key() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "full").await?;
    let otp = OtpFixture::new("full-otp-22")?;
    let files = [b"must not be lost".to_vec()];
    let link = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let other = owner.send_files_with_otp(&files, 1, None, &otp).await?;
    let anyone = NativeClient::anonymous(&relay.url);

    // Below the free-space reserve, a change is refused before it starts.
    let mut config = (*relay.state().config).clone();
    config.server.min_free_bytes = u64::MAX / 2;
    let crowded = relay::app(relay::AppState::with_clock(
        config,
        relay.state().store.clone(),
        relay.state().clock.clone(),
    ));
    let right = json(&wire::OpenLinkRequest {
        proof: otp.proof(&link).into(),
    });
    let (status, body) = call(
        &crowded,
        Method::POST,
        &format!("/api/links/{}/open", link.id),
        &[],
        Some(right),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (507, Some("storage_full")));
    let (status, _) = call(
        &crowded,
        Method::POST,
        "/api/sends",
        &owner.session_headers(),
        Some(json(&wire::CreateSendRequest {
            files: vec![10],
            expires_in_seconds: 86_400,
            max_opens: 1,
            recipient_email: None,
            invoice: None,
        })),
    )
    .await;
    assert_eq!(status, 507);
    // What protects still works below the reserve: logging out.
    let second = NativeClient::log_in(
        &relay.url,
        "full@example.com",
        tests::PASSWORD,
        KeyPair::Alice,
    )
    .await?
    .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    let (status, _) = call(
        &crowded,
        Method::POST,
        "/api/auth/logout",
        &second.session_headers(),
        None,
    )
    .await;
    assert_eq!(status, 204, "logging out is allowed below the reserve");
    assert_eq!(second.get("/api/me").await?.status, 401);

    // A flush that fails after the change was made: the answer is 507, the open is given back.
    relay.state().store.fail_flushes(true);
    let refused = anyone.open_with_otp(&link, &otp, false).await?;
    assert_eq!((refused.status, refused.code()), (507, "storage_full"));
    assert!(refused.body.get("wrapped_key").is_none());
    let mut statuses = vec![refused.status];
    statuses.push(anyone.open_with_otp(&other, &otp, true).await?.status);
    statuses.push(
        NativeClient::sign_up(
            &relay.url,
            "full-new@example.com",
            "full-new",
            &tests::native::account_keys(tests::PASSWORD, KeyPair::Alice)?,
            KeyPair::Alice,
        )
        .await?
        .err()
        .map_or(200, |answer| answer.status),
    );
    statuses.push(owner.reserve_send(vec![10]).await?.status);
    statuses.push(anyone.get(&format!("/api/links/{}", link.id)).await?.status);
    statuses.push(owner.get("/api/sends").await?.status);
    relay.state().store.fail_flushes(false);
    assert!(
        statuses
            .iter()
            .all(|status| *status < 500 || *status == 503 || *status == 507),
        "only 507 or 503 among the server errors: {statuses:?}"
    );
    let info: wire::LinkInfo = anyone.get(&format!("/api/links/{}", link.id)).await?.ok()?;
    assert_eq!(info.opens_left, 1, "no open was spent without its key");
    let opened = anyone
        .open_link_with_otp(&link, &otp)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(opened, link.plaintexts);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_simultaneous_openings_of_a_one_time_link_have_one_winner() -> anyhow::Result<()>
{
    let relay = TestRelay::start().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "race").await?;
    let otp = OtpFixture::new("race-otp-99")?;
    let link = owner
        .send_files_with_otp(&[b"one winner".to_vec()], 1, None, &otp)
        .await?;
    let body = json(&wire::OpenLinkRequest {
        proof: otp.proof(&link).into(),
    });
    let router = relay::app(relay.state().clone());
    let start = Arc::new(tokio::sync::Barrier::new(1000));
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (router, start, body) = (router.clone(), start.clone(), body.clone());
        let path = format!("/api/links/{}/open", link.id);
        racers.spawn(async move {
            start.wait().await;
            call(&router, Method::POST, &path, &[], Some(body)).await.0
        });
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(status) = racers.join_next().await {
        *statuses.entry(status?).or_default() += 1;
    }
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    assert_eq!(
        statuses.values().sum::<usize>(),
        1000,
        "every racer was answered: {statuses:?}"
    );
    Ok(())
}

/// The key material in the standard base64 alphabet (the relay itself uses base64url).
fn standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn url_safe(bytes: &[u8]) -> String {
    shared::encoding::encode(bytes)
}
