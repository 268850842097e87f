//! Requests, the portal and chart transfers through the relay's HTTP API, with two (or three)
//! organisations and real keys: who the relay makes the browser encrypt to, who may read
//! (limited viewing: an admin of the same organisation gets 403 and the metadata), paid
//! fulfilment, requests by link with the upload token and the key-set digest (answered once,
//! then refusing uploads), portal rate and size limits, revocation, expiry with its deletion,
//! bad input, and the curious operator who finds no content, no name, no note and no request
//! secret anywhere in the data directory or the logs.

use std::time::Duration;

use serde_json::json;
use shared::crypto::{Fingerprint, OsRng, RequestFragment, RequestSecret, UserPublicKey};
use shared::ids::Id;
use shared::wire::{self, DocumentKind, DocumentStatus, RequestStatus, Role};
use tests::TestRelay;
use tests::flows::{files_under, marker, operator_finds};
use tests::native::{KeyPair, NativeClient, Outgoing};

/// A requesting clinic (owner, a requesting member, an admin) and a providing firm (owner,
/// an intake user, a plain member).
struct Two {
    relay: TestRelay,
    clinic_owner: NativeClient,
    clinic_user: NativeClient,
    clinic_admin: NativeClient,
    firm_owner: NativeClient,
    firm_intake: NativeClient,
    firm_member: NativeClient,
}

async fn two(relay: TestRelay) -> anyhow::Result<Two> {
    let clinic_owner =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "clinic", KeyPair::Alice)
            .await?;
    let clinic_user = clinic_owner
        .invite("doctor", Role::Member, KeyPair::Bob)
        .await?;
    let clinic_admin = clinic_owner
        .invite("clinicadmin", Role::Admin, KeyPair::Bob)
        .await?;
    let firm_owner =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "lawfirm", KeyPair::Bob)
            .await?;
    let firm_intake = firm_owner
        .invite("intake", Role::Member, KeyPair::Alice)
        .await?;
    let firm_member = firm_owner
        .invite("clerk", Role::Member, KeyPair::Alice)
        .await?;
    let settings = wire::PortalSettings {
        enabled: false,
        intake: vec![firm_intake.id()?],
    };
    firm_owner
        .put("/api/org/portal", &settings)
        .await?
        .ok::<wire::PortalSettings>()?;
    Ok(Two {
        relay,
        clinic_owner,
        clinic_user,
        clinic_admin,
        firm_owner,
        firm_intake,
        firm_member,
    })
}

fn in_days(days: i64) -> i64 {
    tests::stripe::now() + days * 86_400
}

fn readers_of(created: &wire::DocumentCreated) -> Vec<Id> {
    let mut ids: Vec<Id> = created.readers.iter().map(|holder| holder.user).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<Id>) -> Vec<Id> {
    ids.sort();
    ids
}

fn bytes_with(marker: &str, len: usize) -> Vec<u8> {
    let mut bytes = vec![0_u8; len];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes);
    let at = len / 2;
    bytes[at..at + marker.len()].copy_from_slice(marker.as_bytes());
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_to_another_firm_with_authorisation_and_paid_fulfilment() -> anyhow::Result<()> {
    let world = two(TestRelay::start().await?).await?;
    let consent = marker("CONSENT");
    let authorization = Outgoing::new(vec![bytes_with(&consent, 3000)]);
    let created: wire::CreateRequestResponse = world
        .clinic_user
        .post(
            "/api/requests",
            Some(&wire::CreateRequestRequest {
                target: wire::RequestTarget::Organisation {
                    handle: "lawfirm".to_owned(),
                },
                description: "Records of patient 4411, 2019 to 2024".to_owned(),
                due_at: in_days(7),
                authorization: Some(authorization.sizes()),
            }),
        )
        .await?
        .ok()?;
    let requester_side = sorted(vec![world.clinic_user.id()?, world.clinic_owner.id()?]);
    assert_eq!(
        sorted(created.readers.iter().map(|holder| holder.user).collect()),
        requester_side,
        "fulfilments go to the requester and their owner"
    );
    let slot = created
        .authorization
        .clone()
        .ok_or_else(|| anyhow::anyhow!("an authorisation slot"))?;
    assert_eq!(
        readers_of(&slot),
        sorted(vec![
            world.firm_owner.id()?,
            world.firm_intake.id()?,
            world.clinic_user.id()?,
            world.clinic_owner.id()?,
        ]),
        "the authorisation goes to the provider's owner and intake, and the requester's side"
    );
    let finalized = world
        .clinic_user
        .upload_document(&slot, &authorization, None)
        .await?;
    assert_eq!(finalized.status, 200, "{finalized:?}");

    // The provider sees the request and reads the authorisation.
    let incoming: Vec<wire::RequestView> = world.firm_owner.get("/api/requests").await?.ok()?;
    assert_eq!(incoming.len(), 1);
    assert!(!incoming[0].outgoing);
    assert_eq!(incoming[0].status, RequestStatus::Open);
    assert_eq!(incoming[0].organisation, "Firm clinic");
    let read = world
        .firm_intake
        .read_document(slot.id)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(read.files, authorization.files);
    let refused = world
        .firm_member
        .read_document(slot.id)
        .await?
        .expect_err("not an intake user");
    assert_eq!(refused.status, 403);

    // The provider fulfils with an invoice; the requester must pay first.
    let records = marker("RECORDS");
    let fulfilment = Outgoing::new(vec![bytes_with(&records, 2_500_000), b"".to_vec()]);
    let created_doc: wire::DocumentCreated = world
        .firm_owner
        .post(
            &format!("/api/requests/{}/fulfil", created.id),
            Some(&wire::FulfilRequest {
                files: fulfilment.sizes(),
                invoice: Some(wire::InvoiceTerms {
                    amount_minor: 5000,
                    currency: shared::money::Currency::parse("EUR")?,
                    description: "Copying fee".to_owned(),
                }),
            }),
        )
        .await?
        .ok()?;
    assert_eq!(readers_of(&created_doc), requester_side);
    assert!(created_doc.upload_token.is_none(), "a logged-in provider");
    let done = world
        .firm_owner
        .upload_document(&created_doc, &fulfilment, None)
        .await?;
    assert_eq!(done.status, 200, "{done:?}");
    let view: wire::RequestView = world
        .clinic_user
        .get(&format!("/api/requests/{}", created.id))
        .await?
        .ok()?;
    assert_eq!(view.status, RequestStatus::Fulfilled);
    assert!(view.outgoing);
    let document = &view.fulfilments[0];
    assert!(document.readable);
    let invoice = document
        .invoice
        .clone()
        .ok_or_else(|| anyhow::anyhow!("an invoice"))?;
    let unpaid = world
        .clinic_user
        .read_document(created_doc.id)
        .await?
        .expect_err("unpaid");
    assert_eq!((unpaid.status, unpaid.code()), (402, "payment_required"));
    world
        .firm_owner
        .post(
            &format!("/api/invoices/{}/mark-paid", invoice.id),
            Some(&wire::MarkPaidRequest {
                reference: "transfer 9".to_owned(),
            }),
        )
        .await?
        .ok::<wire::InvoiceView>()?;
    for reader in [&world.clinic_user, &world.clinic_owner] {
        let read = reader
            .read_document(created_doc.id)
            .await?
            .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
        assert_eq!(read.files, fulfilment.files);
        assert_eq!(read.names, fulfilment.names);
    }

    // Limited viewing: the clinic's admin sees the metadata and a lock; the provider itself
    // keeps no readable copy; a third organisation sees nothing at all.
    let locked: wire::DocumentView = world
        .clinic_admin
        .get(&format!("/api/documents/{}", created_doc.id))
        .await?
        .ok()?;
    assert!(!locked.readable);
    assert_eq!(locked.readers.len(), 2);
    let refused = world
        .clinic_admin
        .read_document(created_doc.id)
        .await?
        .expect_err("an admin manages, and does not read");
    assert_eq!(refused.status, 403);
    let chunk = world
        .clinic_admin
        .get(&format!(
            "/api/documents/{}/files/0/chunks/0",
            created_doc.id
        ))
        .await?;
    assert_eq!(chunk.status, 403, "no ciphertext either");
    let provider = world
        .firm_owner
        .read_document(created_doc.id)
        .await?
        .expect_err("the provider is not a reader");
    assert_eq!(provider.status, 403);
    let stranger =
        NativeClient::verified_owner(&world.relay.url, world.relay.data_dir(), "stranger").await?;
    assert_eq!(
        stranger
            .get(&format!("/api/documents/{}", created_doc.id))
            .await?
            .status,
        404
    );
    assert_eq!(
        stranger
            .get(&format!("/api/requests/{}", created.id))
            .await?
            .status,
        404
    );
    let inbox: Vec<wire::DocumentView> = world
        .clinic_admin
        .get("/api/documents?box=inbox")
        .await?
        .ok()?;
    assert!(
        inbox
            .iter()
            .any(|document| document.id == created_doc.id && !document.readable)
    );
    let sent: Vec<wire::DocumentView> = world
        .firm_owner
        .get("/api/documents?box=sent")
        .await?
        .ok()?;
    assert!(sent.iter().any(|document| document.id == created_doc.id));
    let audit: Vec<wire::AuditEntryView> = world.clinic_owner.get("/api/org/audit").await?.ok()?;
    assert!(
        audit
            .iter()
            .any(|entry| entry.action == "document.open" && entry.outcome == "denied")
    );

    // The requester closes it; the provider can add nothing more.
    let closed: wire::RequestView = world
        .clinic_user
        .post::<()>(&format!("/api/requests/{}/close", created.id), None)
        .await?
        .ok()?;
    assert_eq!(closed.status, RequestStatus::Closed);
    let late = world
        .firm_owner
        .post(
            &format!("/api/requests/{}/fulfil", created.id),
            Some(&wire::FulfilRequest {
                files: vec![1],
                invoice: None,
            }),
        )
        .await?;
    assert_eq!((late.status, late.code()), (410, "closed"));

    let data = world.relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("consent content", consent.into_bytes()),
            ("records content", records.into_bytes()),
            ("file name", b"document-0.pdf".to_vec()),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_by_link_is_answered_without_an_account() -> anyhow::Result<()> {
    let world = two(TestRelay::start().await?).await?;
    let secret = RequestSecret::generate(&mut OsRng);
    let keys = shared::crypto::derive_request_keys(&secret);
    let token = keys.upload_token();
    let consent = marker("LINKCONSENT");
    let authorization = Outgoing::new(vec![bytes_with(&consent, 1000)]);
    let created: wire::CreateRequestResponse = world
        .clinic_user
        .post(
            "/api/requests",
            Some(&wire::CreateRequestRequest {
                target: wire::RequestTarget::Link {
                    upload_verifier: keys.upload_verifier(),
                    provider_email: Some("patient@example.org".to_owned()),
                },
                description: "Your signed intake form".to_owned(),
                due_at: in_days(3),
                authorization: Some(authorization.sizes()),
            }),
        )
        .await?
        .ok()?;
    let slot = created
        .authorization
        .clone()
        .ok_or_else(|| anyhow::anyhow!("a slot"))?;
    assert_eq!(
        readers_of(&slot),
        sorted(vec![world.clinic_user.id()?, world.clinic_owner.id()?])
    );
    // Without the link-wrapped key the authorisation is refused: the provider could not read it.
    let missing = world
        .clinic_user
        .upload_document(&slot, &authorization, None)
        .await?;
    assert_eq!(missing.status, 422, "{missing:?}");
    let done = world
        .clinic_user
        .upload_document(&slot, &authorization, Some(&keys.authorization_key))
        .await?;
    assert_eq!(done.status, 200, "{done:?}");
    let fingerprints: Vec<Fingerprint> = created
        .readers
        .iter()
        .map(|holder| UserPublicKey::from_spki_der(&holder.public_key).map(|key| key.fingerprint()))
        .collect::<Result<_, _>>()?;
    let fragment = RequestFragment {
        secret,
        key_set_digest: Fingerprint::set_digest(&fingerprints),
    };

    // The provider holds only the link.
    let provider = NativeClient::anonymous(&world.relay.url);
    let path = format!("/api/requests/{}/link", created.id);
    assert_eq!(provider.get_with(&path, &[]).await?.status, 401);
    assert_eq!(
        provider
            .get_with(&path, &[("X-Upload-Token", "AAAA")])
            .await?
            .status,
        401
    );
    let view: wire::LinkRequestView = provider
        .get_with(&path, &[("X-Upload-Token", token.as_str())])
        .await?
        .ok()?;
    assert_eq!(view.description, "Your signed intake form");
    let served: Vec<Fingerprint> = view
        .readers
        .iter()
        .map(|holder| UserPublicKey::from_spki_der(&holder.public_key).map(|key| key.fingerprint()))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        Fingerprint::set_digest(&served),
        fragment.key_set_digest,
        "the keys served match the link's digest"
    );
    let link_authorization = view
        .authorization
        .ok_or_else(|| anyhow::anyhow!("the authorisation"))?;
    let k = keys
        .authorization_key
        .unwrap(&link_authorization.link_wrapped_key)?;
    let manifest = shared::crypto::Manifest::open(&k, &link_authorization.manifest)?;
    let files = provider
        .download_files(link_authorization.document, &k, &manifest, |request| {
            request.header("X-Upload-Token", token.as_str())
        })
        .await?;
    assert_eq!(files, authorization.files);

    // Fulfil: no invoice without an account; with the token, an upload token for the chunks.
    let fulfil = format!("/api/requests/{}/fulfil", created.id);
    let with_invoice = json!({
        "files": [10],
        "invoice": {"amount_minor": 100, "currency": "EUR", "description": "x"}
    });
    let refused = provider
        .post_with(
            &fulfil,
            &with_invoice,
            &[("X-Upload-Token", token.as_str())],
        )
        .await?;
    assert_eq!(refused.status, 422);
    let answer_files = Outgoing::new(vec![bytes_with(&marker("FORM"), 5000)]);
    let doc: wire::DocumentCreated = provider
        .post_with(
            &fulfil,
            &wire::FulfilRequest {
                files: answer_files.sizes(),
                invoice: None,
            },
            &[("X-Upload-Token", token.as_str())],
        )
        .await?
        .ok()?;
    let upload_token = doc
        .upload_token
        .clone()
        .ok_or_else(|| anyhow::anyhow!("an upload token"))?;
    // Somebody else's token opens nothing.
    let mut forged = doc.clone();
    forged.upload_token = Some("bm90IHRoZSB0b2tlbg".into());
    let refused = provider
        .upload_document(&forged, &answer_files, None)
        .await?;
    assert_eq!(refused.status, 401);
    assert!(!upload_token.is_empty());
    let done = provider.upload_document(&doc, &answer_files, None).await?;
    assert_eq!(done.status, 200, "{done:?}");
    let read = world
        .clinic_user
        .read_document(doc.id)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(read.files, answer_files.files);
    let view: wire::RequestView = world
        .clinic_owner
        .get(&format!("/api/requests/{}", created.id))
        .await?
        .ok()?;
    assert_eq!(view.status, RequestStatus::Fulfilled);
    assert_eq!(view.fulfilments[0].from, "a provider by link");

    let fragment_text = fragment.encode();
    let data = world.relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("consent", consent.into_bytes()),
            ("request fragment", fragment_text.as_bytes().to_vec()),
            (
                "request secret",
                fragment.secret.dangerously_expose_bytes().to_vec(),
            ),
            ("upload token", token.as_bytes().to_vec()),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_by_link_takes_one_answer_and_then_refuses_uploads() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let clinic =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "clinic", KeyPair::Alice)
            .await?;
    let secret = RequestSecret::generate(&mut OsRng);
    let keys = shared::crypto::derive_request_keys(&secret);
    let token = keys.upload_token();
    let created: wire::CreateRequestResponse = clinic
        .post(
            "/api/requests",
            Some(&wire::CreateRequestRequest {
                target: wire::RequestTarget::Link {
                    upload_verifier: keys.upload_verifier(),
                    provider_email: None,
                },
                description: "Your signed intake form".to_owned(),
                due_at: in_days(3),
                authorization: None,
            }),
        )
        .await?
        .ok()?;
    let provider = NativeClient::anonymous(&relay.url);
    let fulfil = format!("/api/requests/{}/fulfil", created.id);
    let form = Outgoing::new(vec![bytes_with(&marker("FORM"), 5000)]);
    let answer = wire::FulfilRequest {
        files: form.sizes(),
        invoice: None,
    };
    let by_link = [("X-Upload-Token", token.as_str())];
    // Three tabs (or three people holding the link) reserve before any of them finishes.
    let mut reserved = Vec::new();
    for _ in 0..3 {
        let created: wire::DocumentCreated =
            provider.post_with(&fulfil, &answer, &by_link).await?.ok()?;
        reserved.push(created);
    }
    let [first, second, third] = &reserved[..] else {
        anyhow::bail!("three reservations");
    };
    let second_finalize = provider
        .upload_document_chunks(second, &form, None)
        .await?
        .map_err(|refusal| anyhow::anyhow!("{refusal:?}"))?;

    let done = provider.upload_document(first, &form, None).await?;
    assert_eq!(done.status, 200, "{done:?}");
    // The second had every chunk stored already: its finalize is what is refused.
    let late = provider.finalize_document(second, &second_finalize).await?;
    assert_eq!((late.status, late.code()), (410, "fulfilled"), "{late:?}");
    // The third is refused at its first chunk, a new reservation at once.
    let refused = provider.upload_document(third, &form, None).await?;
    assert_eq!(
        (refused.status, refused.code()),
        (410, "fulfilled"),
        "{refused:?}"
    );
    let again = provider.post_with(&fulfil, &answer, &by_link).await?;
    assert_eq!(
        (again.status, again.code()),
        (410, "fulfilled"),
        "{again:?}"
    );
    assert!(
        again.body["message"]
            .as_str()
            .is_some_and(|message| message.contains("already been answered")),
        "{again:?}"
    );

    // Both sides see one answer: the first.
    let seen: wire::LinkRequestView = provider
        .get_with(&format!("/api/requests/{}/link", created.id), &by_link)
        .await?
        .ok()?;
    assert_eq!(seen.status, RequestStatus::Fulfilled);
    let view: wire::RequestView = clinic
        .get(&format!("/api/requests/{}", created.id))
        .await?
        .ok()?;
    assert_eq!(view.status, RequestStatus::Fulfilled);
    let answers: Vec<Id> = view
        .fulfilments
        .iter()
        .map(|document| document.id)
        .collect();
    assert_eq!(answers, vec![first.id]);
    assert_eq!(
        clinic
            .read_document(first.id)
            .await?
            .map_err(|refusal| anyhow::anyhow!("{refusal:?}"))?
            .files,
        form.files
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_portal_takes_anonymous_drops_for_its_intake_within_its_limits() -> anyhow::Result<()> {
    let relay = TestRelay::start_with(|config| {
        config.portal.max_drops_per_ip_per_hour = 3;
        config.portal.max_bundle_bytes = 3 * 1024 * 1024;
    })
    .await?;
    let world = two(relay).await?;
    let anyone = NativeClient::anonymous(&world.relay.url);
    assert_eq!(
        anyone.get("/api/portal/lawfirm").await?.code(),
        "no_portal",
        "off until the owner enables it"
    );
    let admin = world
        .firm_owner
        .invite("firmadmin", Role::Admin, KeyPair::Bob)
        .await?;
    let denied = admin
        .put(
            "/api/org/portal",
            &wire::PortalSettings {
                enabled: true,
                intake: Vec::new(),
            },
        )
        .await?;
    assert_eq!(denied.status, 403, "the owner's decision");
    let foreign = world
        .firm_owner
        .put(
            "/api/org/portal",
            &wire::PortalSettings {
                enabled: true,
                intake: vec![world.clinic_user.id()?],
            },
        )
        .await?;
    assert_eq!(foreign.status, 422, "intake users are members");
    world
        .firm_owner
        .put(
            "/api/org/portal",
            &wire::PortalSettings {
                enabled: true,
                intake: vec![world.firm_intake.id()?],
            },
        )
        .await?
        .ok::<wire::PortalSettings>()?;
    let portal: wire::PortalView = anyone.get("/api/portal/lawfirm").await?.ok()?;
    assert!(portal.verified);
    assert_eq!(
        sorted(portal.readers.iter().map(|holder| holder.user).collect()),
        sorted(vec![world.firm_owner.id()?, world.firm_intake.id()?])
    );

    let content = marker("DROP");
    let mut drop = Outgoing::new(vec![bytes_with(&content, 4000)]);
    drop.names = vec![format!("{}.jpg", marker("scan-of-id"))];
    drop.note = Some(marker("From Jane Roe, DOB 1980-01-01"));
    let created: wire::DocumentCreated = anyone
        .post(
            "/api/portal/lawfirm/drops",
            Some(&wire::NewDocumentRequest {
                files: drop.sizes(),
            }),
        )
        .await?
        .ok()?;
    let done = anyone.upload_document(&created, &drop, None).await?;
    assert_eq!(done.status, 200, "{done:?}");
    for reader in [&world.firm_owner, &world.firm_intake] {
        let read = reader
            .read_document(created.id)
            .await?
            .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
        assert_eq!(read.files, drop.files);
        assert_eq!(read.note, drop.note);
    }
    for outsider in [&admin, &world.firm_member] {
        let refused = outsider
            .read_document(created.id)
            .await?
            .expect_err("not an intake user");
        assert_eq!(refused.status, 403);
    }
    let inbox: Vec<wire::DocumentView> = world
        .firm_intake
        .get("/api/documents?box=inbox")
        .await?
        .ok()?;
    assert_eq!(inbox[0].kind, DocumentKind::Portal);
    assert_eq!(inbox[0].from, "the portal");

    let too_big = anyone
        .post(
            "/api/portal/lawfirm/drops",
            Some(&wire::NewDocumentRequest {
                files: vec![4 * 1024 * 1024],
            }),
        )
        .await?;
    assert_eq!(too_big.status, 422, "{too_big:?}");
    let third = anyone
        .post(
            "/api/portal/lawfirm/drops",
            Some(&wire::NewDocumentRequest { files: vec![1] }),
        )
        .await?;
    assert_eq!(third.status, 200);
    let fourth = anyone
        .post(
            "/api/portal/lawfirm/drops",
            Some(&wire::NewDocumentRequest { files: vec![1] }),
        )
        .await?;
    assert_eq!((fourth.status, fourth.code()), (429, "rate_limited"));

    let data = world.relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("content", content.into_bytes()),
            ("file name", drop.names[0].clone().into_bytes()),
            ("note", drop.note.clone().unwrap_or_default().into_bytes()),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

/// Reserves a chart transfer of files of these sizes from `sender` to the law firm.
async fn transfer_to_lawfirm(
    sender: &NativeClient,
    files: Vec<u64>,
) -> anyhow::Result<wire::DocumentCreated> {
    sender
        .post(
            "/api/transfers",
            Some(&wire::TransferRequest {
                to: "lawfirm".to_owned(),
                files,
            }),
        )
        .await?
        .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chart_transfer_reaches_the_other_firm_and_the_sender_keeps_a_copy() -> anyhow::Result<()>
{
    let world = two(TestRelay::start().await?).await?;
    let chart = Outgoing::new(vec![bytes_with(&marker("CHART"), 1_200_000)]);
    let created = transfer_to_lawfirm(&world.clinic_user, chart.sizes()).await?;
    assert_eq!(
        readers_of(&created),
        sorted(vec![
            world.firm_owner.id()?,
            world.firm_intake.id()?,
            world.clinic_user.id()?,
            world.clinic_owner.id()?,
        ])
    );
    // The relay refuses wrapped keys for anyone else, or for fewer.
    let mut short = created.clone();
    short.readers.pop();
    let refused = world
        .clinic_user
        .upload_document(&short, &chart, None)
        .await?;
    assert_eq!(refused.status, 422, "{refused:?}");
    let done = world
        .clinic_user
        .upload_document(&created, &chart, None)
        .await?;
    assert_eq!(done.status, 200, "{done:?}");
    // The sender's copy.
    let copy = world
        .clinic_owner
        .read_document(created.id)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(copy.files, chart.files);
    let sent: Vec<wire::DocumentView> = world
        .clinic_user
        .get("/api/documents?box=sent")
        .await?
        .ok()?;
    assert!(sent[0].outgoing && sent[0].readable);
    assert_eq!(
        world
            .clinic_admin
            .read_document(created.id)
            .await?
            .expect_err("the sender's admin is not a reader")
            .status,
        403
    );
    // Received.
    let received = world
        .firm_intake
        .read_document(created.id)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(received.files, chart.files);
    let withdraw = world
        .clinic_user
        .post::<()>(&format!("/api/documents/{}/revoke", created.id), None)
        .await?;
    assert_eq!(withdraw.status, 409, "opened by the receiver: too late");

    // A second transfer withdrawn before anyone there opened it is gone for good.
    let second = Outgoing::new(vec![b"second".to_vec()]);
    let created = transfer_to_lawfirm(&world.clinic_user, second.sizes()).await?;
    world
        .clinic_user
        .upload_document(&created, &second, None)
        .await?;
    let receiver_view = world
        .firm_owner
        .post::<()>(&format!("/api/documents/{}/revoke", created.id), None)
        .await?;
    assert_eq!(receiver_view.status, 403, "the receiver cannot withdraw it");
    let withdrawn: wire::DocumentView = world
        .clinic_user
        .post::<()>(&format!("/api/documents/{}/revoke", created.id), None)
        .await?
        .ok()?;
    assert_eq!(withdrawn.status, DocumentStatus::Revoked);
    let gone = world
        .firm_owner
        .read_document(created.id)
        .await?
        .expect_err("revoked");
    assert_eq!((gone.status, gone.code()), (410, "revoked"));
    assert!(
        !world
            .relay
            .data_dir()
            .join("blobs")
            .join(created.id.to_string())
            .exists(),
        "its ciphertext is deleted"
    );
    let to_self = world
        .clinic_user
        .post(
            "/api/transfers",
            Some(&wire::TransferRequest {
                to: "clinic".to_owned(),
                files: vec![1],
            }),
        )
        .await?;
    assert_eq!(to_self.status, 422);

    // A transfer reserved before the operator suspends the clinic cannot be finished after:
    // every chunk and the finalize look at the organisation again.
    let third = Outgoing::new(vec![b"reserved before the suspension".to_vec()]);
    let created = transfer_to_lawfirm(&world.clinic_user, third.sizes()).await?;
    let answer = relay::admin::send(
        world.relay.data_dir(),
        &relay::admin::AdminCommand::OrgSuspend {
            handle: "clinic".to_owned(),
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("the relay answers on its admin socket"))?;
    assert!(answer.ok, "{}", answer.message);
    let refused = world
        .clinic_user
        .upload_document(&created, &third, None)
        .await?;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("suspended"),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn received_documents_expire_with_the_organisations_policy_and_are_deleted()
-> anyhow::Result<()> {
    let (clock, time) = relay::Clock::manual(tests::stripe::now());
    let relay = TestRelay::start_with_clock(
        |config| {
            config.sessions.idle_minutes = 60 * 24 * 200;
            config.sessions.absolute_hours = 24 * 200;
        },
        clock,
    )
    .await?;
    let world = two(relay).await?;
    let mut policy: wire::OrgPolicy = world.firm_owner.get("/api/org/policy").await?.ok()?;
    policy.max_expiry_days = 2;
    world
        .firm_owner
        .put("/api/org/policy", &policy)
        .await?
        .ok::<wire::OrgPolicy>()?;
    let chart = Outgoing::new(vec![b"short-lived".to_vec()]);
    let created = transfer_to_lawfirm(&world.clinic_user, chart.sizes()).await?;
    assert_eq!(
        created.expires_at,
        time.now() + 2 * 86_400,
        "the receiver's shorter expiry wins"
    );
    world
        .clinic_user
        .upload_document(&created, &chart, None)
        .await?;
    let blobs = world
        .relay
        .data_dir()
        .join("blobs")
        .join(created.id.to_string());
    assert!(blobs.exists());
    time.advance(2 * 86_400);
    let expired = world
        .firm_owner
        .read_document(created.id)
        .await?
        .expect_err("expired");
    assert_eq!((expired.status, expired.code()), (410, "expired"));
    assert!(!blobs.exists(), "deleted, not hidden");
    let view: wire::DocumentView = world
        .firm_owner
        .get(&format!("/api/documents/{}", created.id))
        .await?
        .ok()?;
    assert_eq!(view.status, DocumentStatus::Expired);
    // An upload never finished is swept after a day.
    let abandoned = transfer_to_lawfirm(&world.clinic_user, vec![10]).await?;
    time.advance(25 * 3600);
    let report = relay::retention::sweep_documents(world.relay.state(), time.now()).await?;
    assert_eq!(report.abandoned, 1);
    assert_eq!(
        world
            .clinic_user
            .get(&format!("/api/documents/{}", abandoned.id))
            .await?
            .status,
        404
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(files_under(&world.relay.data_dir().join("blobs")).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_and_uploads_get_clear_errors() -> anyhow::Result<()> {
    let world = two(TestRelay::start().await?).await?;
    let request = |target: serde_json::Value, due: i64, description: &str| json!({ "target": target, "description": description, "due_at": due });
    let to_firm = json!({"kind": "organisation", "handle": "lawfirm"});
    for (what, body, status) in [
        ("due in the past", request(to_firm.clone(), 1, "x"), 422),
        (
            "no description",
            request(to_firm.clone(), in_days(1), "  "),
            422,
        ),
        (
            "unknown firm",
            request(
                json!({"kind": "organisation", "handle": "nobody"}),
                in_days(1),
                "x",
            ),
            422,
        ),
        (
            "own firm",
            request(
                json!({"kind": "organisation", "handle": "clinic"}),
                in_days(1),
                "x",
            ),
            422,
        ),
        (
            "unknown target kind",
            request(json!({"kind": "fax"}), in_days(1), "x"),
            422,
        ),
        (
            "a short verifier",
            request(
                json!({"kind": "link", "upload_verifier": "AAAA"}),
                in_days(1),
                "x",
            ),
            422,
        ),
    ] {
        let answer = world.clinic_user.post("/api/requests", Some(&body)).await?;
        assert_eq!(answer.status, status, "{what}: {answer:?}");
    }
    let malformed = tests::native::send(
        world
            .clinic_user
            .raw(reqwest::Method::POST, "/api/requests")
            .header("Content-Type", "application/json")
            .body("{\"target\": "),
    )
    .await?;
    assert_eq!(malformed.status, 400);
    assert_eq!(
        world
            .clinic_user
            .get("/api/documents?box=attic")
            .await?
            .status,
        400
    );
    let created = transfer_to_lawfirm(&world.clinic_user, vec![10]).await?;
    let chunk = format!("/api/documents/{}/files/0/chunks/0", created.id);
    let wrong_size = tests::native::send(
        world
            .clinic_user
            .raw(reqwest::Method::PUT, &chunk)
            .header("Content-Type", "application/octet-stream")
            .body(vec![0_u8; 11]),
    )
    .await?;
    assert_eq!(wrong_size.status, 422);
    let by_someone_else = tests::native::send(
        world
            .clinic_owner
            .raw(reqwest::Method::PUT, &chunk)
            .header("Content-Type", "application/octet-stream")
            .body(vec![0_u8; 26]),
    )
    .await?;
    assert_eq!(by_someone_else.status, 403, "only its uploader adds to it");
    let early = world
        .clinic_user
        .post(
            &format!("/api/documents/{}/finalize", created.id),
            Some(&json!({"readers": [], "manifest": "AAAA"})),
        )
        .await?;
    assert_eq!(early.status, 422, "{early:?}");
    let not_found = world
        .clinic_user
        .get(&format!("/api/documents/{}", Id::generate(&mut OsRng)))
        .await?;
    assert_eq!(not_found.status, 404);
    let pending = NativeClient::anonymous(&world.relay.url);
    assert_eq!(pending.get("/api/documents").await?.status, 401);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_mail_configured_providers_are_reminded_and_readers_told() -> anyhow::Result<()> {
    let sink = tests::SmtpSink::start().await?;
    let sink_url = sink.url();
    let relay = TestRelay::start_with(|config| {
        config.smtp.url = relay::config::Secret::new(sink_url);
        config.smtp.from = "Sealpost <no-reply@sealpost.test>".to_owned();
        config.public_url = "https://sealpost.test".to_owned();
    })
    .await?;
    let world = two(relay).await?;
    let asked: wire::CreateRequestResponse = world
        .clinic_user
        .post(
            "/api/requests",
            Some(&wire::CreateRequestRequest {
                target: wire::RequestTarget::Organisation {
                    handle: "lawfirm".to_owned(),
                },
                description: "Discharge letter of March".to_owned(),
                due_at: in_days(1),
                authorization: None,
            }),
        )
        .await?
        .ok()?;
    let secret = RequestSecret::generate(&mut OsRng);
    let keys = shared::crypto::derive_request_keys(&secret);
    world
        .clinic_user
        .post(
            "/api/requests",
            Some(&wire::CreateRequestRequest {
                target: wire::RequestTarget::Link {
                    upload_verifier: keys.upload_verifier(),
                    provider_email: Some("patient@example.org".to_owned()),
                },
                description: "Your insurance card".to_owned(),
                due_at: in_days(1),
                authorization: None,
            }),
        )
        .await?
        .ok::<wire::CreateRequestResponse>()?;
    // Not due soon: no reminder for this one.
    world
        .clinic_user
        .post(
            "/api/requests",
            Some(&wire::CreateRequestRequest {
                target: wire::RequestTarget::Organisation {
                    handle: "lawfirm".to_owned(),
                },
                description: "Next year's records".to_owned(),
                due_at: in_days(30),
                authorization: None,
            }),
        )
        .await?
        .ok::<wire::CreateRequestResponse>()?;
    let state = world.relay.state();
    let now = tests::stripe::now();
    assert_eq!(relay::retention::remind_requests(state, now).await?, 2);
    assert_eq!(
        relay::retention::remind_requests(state, now + 3600).await?,
        0,
        "at most once a day"
    );
    // Two sign-up confirmations and four invitations, then three reminders.
    sink.message(9).await?;
    // Undo quoted-printable's soft line breaks.
    let mails: Vec<String> = sink
        .messages()
        .iter()
        .map(|mail| mail.replace("=\n", ""))
        .collect();
    // Descriptions stay out of mail (they may name a patient): the mails say where to look.
    assert!(
        !mails
            .iter()
            .any(|mail| mail.contains("Discharge letter") || mail.contains("insurance card")),
        "{mails:#?}"
    );
    let to_firm: Vec<&String> = mails
        .iter()
        .filter(|mail| mail.contains(&format!("/app/requests/{}", asked.id)))
        .collect();
    assert_eq!(
        to_firm.len(),
        2,
        "the firm's owner and intake user: {mails:#?}"
    );
    assert!(
        to_firm
            .iter()
            .all(|mail| mail.contains(&format!("https://sealpost.test/app/requests/{}", asked.id))),
        "{to_firm:#?}"
    );
    assert!(
        to_firm
            .iter()
            .any(|mail| mail.contains("To: intake@example.com"))
    );
    let to_patient = mails
        .iter()
        .find(|mail| mail.contains("To: patient@example.org"))
        .ok_or_else(|| anyhow::anyhow!("the provider by link is reminded"))?;
    assert!(to_patient.contains("Use the link they sent you"));
    assert!(!to_patient.contains("/r/"), "no link: the relay has none");
    assert!(!mails.iter().any(|mail| mail.contains("Next year")));

    // Readers hear that a transfer arrived (never its content); the uploader does not.
    let chart = Outgoing::new(vec![b"chart body".to_vec()]);
    let created = transfer_to_lawfirm(&world.clinic_user, chart.sizes()).await?;
    world
        .clinic_user
        .upload_document(&created, &chart, None)
        .await?;
    sink.message(12).await?;
    let notices: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|mail| mail.contains("A chart transfer arrived"))
        .collect();
    assert_eq!(
        notices.len(),
        3,
        "two at the firm, the sender's owner: {:#?}",
        sink.messages()
    );
    assert!(
        !notices
            .iter()
            .any(|mail| mail.contains("To: doctor@example.com"))
    );
    assert!(!notices.iter().any(|mail| mail.contains("chart body")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_document_upload_lists_its_stored_chunks_to_its_uploader_only()
-> anyhow::Result<()> {
    let world = two(TestRelay::start().await?).await?;
    world
        .firm_owner
        .put(
            "/api/org/portal",
            &wire::PortalSettings {
                enabled: true,
                intake: vec![world.firm_intake.id()?],
            },
        )
        .await?
        .ok::<wire::PortalSettings>()?;
    let anyone = NativeClient::anonymous(&world.relay.url);
    // A portal drop (uploads by token) of three whole chunks.
    let chunk = 1024 * 1024;
    let created: wire::DocumentCreated = anyone
        .post(
            "/api/portal/lawfirm/drops",
            Some(&wire::NewDocumentRequest {
                files: vec![3 * chunk],
            }),
        )
        .await?
        .ok()?;
    let token = created
        .upload_token
        .as_ref()
        .expect("a drop uploads by token")
        .dangerously_expose()
        .to_owned();
    for index in [0, 2] {
        let put = tests::native::send(
            anyone
                .raw(
                    reqwest::Method::PUT,
                    &format!("/api/documents/{}/files/0/chunks/{index}", created.id),
                )
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(vec![7_u8; chunk as usize + 16]),
        )
        .await?;
        assert_eq!(put.status, 204, "{put:?}");
    }
    let path = format!("/api/documents/{}/chunks", created.id);
    let listed = |token: &str| {
        tests::native::send(
            anyone
                .raw(reqwest::Method::GET, &path)
                .bearer_auth(token.to_owned()),
        )
    };
    let stored: wire::StoredChunks = listed(&token).await?.ok()?;
    assert_eq!(stored.files, vec![vec![0, 2]]);
    assert_eq!(anyone.get(&path).await?.status, 401, "no token, no session");
    let forged = listed("bm90IHRoZSB0b2tlbg").await?;
    assert_eq!(forged.status, 401, "{forged:?}");
    for reader in [&world.firm_owner, &world.firm_intake] {
        // Only the token uploads a drop, as for its chunks: a session does not count.
        let refused = reader.get(&path).await?;
        assert_eq!(
            (refused.status, refused.code()),
            (401, "unauthenticated"),
            "a reader is not the uploader: {refused:?}"
        );
    }

    // A chart transfer (uploads by session): its sender only.
    let chart = Outgoing::new(vec![vec![1_u8; 10]]);
    let transfer = transfer_to_lawfirm(&world.clinic_user, chart.sizes()).await?;
    let path = format!("/api/documents/{}/chunks", transfer.id);
    let stored: wire::StoredChunks = world.clinic_user.get(&path).await?.ok()?;
    assert_eq!(stored.files, vec![Vec::<u32>::new()]);
    for other in [&world.clinic_admin, &world.firm_owner] {
        let refused = other.get(&path).await?;
        assert_eq!(refused.status, 403, "{refused:?}");
    }
    let done = world
        .clinic_user
        .upload_document(&transfer, &chart, None)
        .await?;
    assert_eq!(done.status, 200, "{done:?}");
    let finished = world.clinic_user.get(&path).await?;
    assert_eq!(
        finished.status, 409,
        "nothing to resume once finalized: {finished:?}"
    );
    Ok(())
}

/// Registers a webhook endpoint of `owner`'s organisation at `url` for `events`; its secret.
async fn webhook(
    owner: &NativeClient,
    url: &str,
    events: &[wire::WebhookEvent],
) -> anyhow::Result<String> {
    let made: wire::CreateWebhookResponse = owner
        .post(
            "/api/org/webhooks",
            Some(&wire::CreateWebhookRequest {
                url: url.to_owned(),
                events: events.to_vec(),
            }),
        )
        .await?
        .ok()?;
    Ok(made.secret.dangerously_expose().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn arrivals_and_answers_reach_each_organisations_webhook() -> anyhow::Result<()> {
    let world = two(TestRelay::start_with(|config| {
        config.webhooks.allow_private_addresses = true;
        config.webhooks.allow_http = true;
    })
    .await?)
    .await?;
    let clinic_hook = tests::webhooks::Receiver::start().await?;
    let firm_hook = tests::webhooks::Receiver::start().await?;
    let clinic_secret = webhook(
        &world.clinic_owner,
        &clinic_hook.url,
        &[
            wire::WebhookEvent::DocumentArrived,
            wire::WebhookEvent::RequestFulfilled,
        ],
    )
    .await?;
    let firm_secret = webhook(
        &world.firm_owner,
        &firm_hook.url,
        &[wire::WebhookEvent::DocumentArrived],
    )
    .await?;

    // The clinic asks with an authorisation: it arrives at the firm.
    let authorization = Outgoing::new(vec![b"a signed consent".to_vec()]);
    let created: wire::CreateRequestResponse = world
        .clinic_user
        .post(
            "/api/requests",
            Some(&wire::CreateRequestRequest {
                target: wire::RequestTarget::Organisation {
                    handle: "lawfirm".to_owned(),
                },
                description: "Records of patient 4411".to_owned(),
                due_at: in_days(7),
                authorization: Some(authorization.sizes()),
            }),
        )
        .await?
        .ok()?;
    let slot = created
        .authorization
        .clone()
        .ok_or_else(|| anyhow::anyhow!("an authorisation slot"))?;
    let uploaded = world
        .clinic_user
        .upload_document(&slot, &authorization, None)
        .await?;
    assert_eq!(uploaded.status, 200, "{uploaded:?}");
    let at_firm = firm_hook.payloads(1, &firm_secret).await?;
    assert_eq!(at_firm[0].event, wire::WebhookEvent::DocumentArrived);
    assert_eq!(at_firm[0].object, slot.id);

    // The firm answers: the clinic hears of the arrival and of its request's answer.
    let records = Outgoing::new(vec![b"the records".to_vec()]);
    let answer: wire::DocumentCreated = world
        .firm_owner
        .post(
            &format!("/api/requests/{}/fulfil", created.id),
            Some(&wire::FulfilRequest {
                files: records.sizes(),
                invoice: None,
            }),
        )
        .await?
        .ok()?;
    let done = world
        .firm_owner
        .upload_document(&answer, &records, None)
        .await?;
    assert_eq!(done.status, 200, "{done:?}");
    let mut at_clinic: Vec<(wire::WebhookEvent, Id)> = clinic_hook
        .payloads(2, &clinic_secret)
        .await?
        .iter()
        .map(|payload| (payload.event, payload.object))
        .collect();
    at_clinic.sort();
    assert_eq!(
        at_clinic,
        [
            (wire::WebhookEvent::DocumentArrived, answer.id),
            (wire::WebhookEvent::RequestFulfilled, created.id),
        ]
    );
    assert_eq!(
        firm_hook.got().len(),
        1,
        "the firm's own answer is no arrival for it"
    );
    for (_, body) in clinic_hook.got().iter().chain(firm_hook.got().iter()) {
        for private in ["patient", "consent", "records", "Firm", "example.com"] {
            assert!(!body.contains(private), "{private} in {body}");
        }
    }
    Ok(())
}
