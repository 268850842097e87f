//! Requests, the portal and chart transfers in real headless browsers, two organisations each
//! (accounts made natively to save time, then logged in through the pages): a request with an
//! authorisation answered behind an invoice and paid by card through the Stripe stand-in; a
//! request by link whose uploader's browser refuses keys a tampering relay substituted and
//! accepts the right ones; a portal drop read by an intake user while an admin sees a lock; a
//! chart transfer read by the other firm, after which a changed key stops the next one. The
//! curious operator finds no content, name, note or request secret.

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::Value;
use shared::ids::Id;
use shared::wire::{self, Role};
use tests::flows::{
    confirm_readers, in_a_week, log_in, marker, operator_finds, request_by_link, set_date, visit,
};
use tests::native::{KeyPair, NativeClient};
use tests::proxy::{TamperingProxy, substitute_keys};
use tests::{Browser, Engine, Session, StripeStandIn, TestRelay};

/// A file with unique content under a unique name; its path, name and bytes.
fn file_in(folder: &std::path::Path, label: &str) -> anyhow::Result<(PathBuf, String, Vec<u8>)> {
    let name = format!("{}.pdf", marker(label));
    let bytes = format!("%PDF-1.4 {}", marker(&format!("{label}-BODY"))).into_bytes();
    let path = folder.join(&name);
    std::fs::write(&path, &bytes)?;
    Ok((path, name, bytes))
}

/// Opens the document page's files and saves file 0; its bytes.
async fn open_and_save(page: &Session) -> anyhow::Result<Vec<u8>> {
    page.click("[data-testid=open-document]").await?;
    page.find("[data-testid=files]").await?;
    let before = std::fs::read_dir(page.downloads())?.count();
    page.click("[data-testid=save-file]").await?;
    let saved = page.wait_for_downloads(before + 1).await?;
    let newest = saved
        .into_iter()
        .max_by_key(|path| {
            std::fs::metadata(path)
                .and_then(|meta| meta.modified())
                .ok()
        })
        .context("a download")?;
    Ok(std::fs::read(newest)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_with_an_authorisation_is_answered_behind_an_invoice_and_paid_by_card()
-> anyhow::Result<()> {
    let stripe = StripeStandIn::start().await?;
    let relay = TestRelay::start_with(|config| stripe.configure(config)).await?;
    stripe.deliver_to(&relay.url);
    let clinic =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "clinic", KeyPair::Alice)
            .await?;
    clinic.invite("doctor", Role::Member, KeyPair::Bob).await?;
    let clinic_admin = clinic
        .invite("clinicadmin", Role::Admin, KeyPair::Bob)
        .await?;
    NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "lawfirm", KeyPair::Bob)
        .await?;
    let folder = tempfile::tempdir()?;
    let (consent, consent_name, consent_bytes) = file_in(folder.path(), "consent")?;
    let (records, records_name, records_bytes) = file_in(folder.path(), "records")?;

    let browser = Browser::start().await?;
    let doctor = browser.session().await?;
    log_in(&doctor, &relay.url, "doctor@example.com").await?;
    visit(&doctor, "/app/requests").await?;
    doctor.fill("input[name=handle]", "lawfirm").await?;
    let description = marker("Records of patient");
    doctor
        .fill("textarea[name=description]", &description)
        .await?;
    set_date(&doctor, "input[name=due]", &in_a_week()).await?;
    doctor
        .find("input[name=authorization]")
        .await?
        .send_keys(&consent.display().to_string())
        .await?;
    doctor
        .wait_for_text("[data-testid=chosen-files]", &consent_name)
        .await?;
    doctor.click("form.composer button[type=submit]").await?;
    // First contact: the clinic's readers of the answer, then the firm's of the authorisation.
    confirm_readers(&doctor, &["clinic@example.com"]).await?;
    confirm_readers(&doctor, &["lawfirm@example.com"]).await?;
    doctor.find("[data-testid=request-made]").await?;

    // The provider reads the authorisation and answers with an invoice.
    let firm = browser.session().await?;
    log_in(&firm, &relay.url, "lawfirm@example.com").await?;
    visit(&firm, "/app/requests").await?;
    firm.wait_for_text("[data-testid=requests]", &description)
        .await?;
    firm.click("[data-testid=requests] a").await?;
    firm.find("[data-testid=request-facts]").await?;
    let request_page = firm.client.current_url().await?.path().to_owned();
    firm.click("[data-testid=authorization] a").await?;
    assert_eq!(
        open_and_save(&firm).await?,
        consent_bytes,
        "the authorisation, byte for byte"
    );
    visit(&firm, &request_page).await?;
    firm.find("input[name=answer-files]")
        .await?
        .send_keys(&records.display().to_string())
        .await?;
    firm.click("input[name=answer-charge]").await?;
    firm.fill("input[name=answer-amount]", "25.00").await?;
    firm.fill("input[name=answer-invoice-description]", "Copying fee")
        .await?;
    firm.click("[data-testid=answer-form] button[type=submit]")
        .await?;
    confirm_readers(&firm, &["clinic@example.com"]).await?;
    firm.find("[data-testid=answer-done]").await?;

    // The requester pays by card and, back from the processor, unlocks and reads.
    visit(&doctor, &request_page).await?;
    doctor
        .wait_for_text("[data-testid=request-status]", "fulfilled")
        .await?;
    doctor.click("[data-testid=fulfilments] a").await?;
    doctor
        .wait_for_text("[data-testid=invoice-amount]", "25.00 EUR")
        .await?;
    let no_open = doctor
        .eval("return document.querySelectorAll('[data-testid=open-document]').length;")
        .await?;
    assert_eq!(
        no_open,
        serde_json::json!(0),
        "nothing opens before payment"
    );
    doctor.click("[data-testid=pay]").await?;
    doctor.click("button[value=card]").await?;
    doctor
        .wait_for_text("[data-testid=invoice-status]", "paid")
        .await?;
    doctor
        .fill("input[name=unlock-password]", tests::PASSWORD)
        .await?;
    doctor
        .click("[data-testid=unlock] button[type=submit]")
        .await?;
    assert_eq!(open_and_save(&doctor).await?, records_bytes);
    doctor
        .wait_for_text("[data-testid=files]", &records_name)
        .await?;

    // The requester's admin sees the answer with a lock and gets no key.
    let id: Id = Id::parse(
        doctor
            .client
            .current_url()
            .await?
            .path()
            .rsplit('/')
            .next()
            .context("a document id")?,
    )?;
    let locked: wire::DocumentView = clinic_admin
        .get(&format!("/api/documents/{id}"))
        .await?
        .ok()?;
    assert!(!locked.readable);
    assert_eq!(
        clinic_admin
            .read_document(id)
            .await?
            .expect_err("locked")
            .status,
        403
    );

    let seen_by_stripe = stripe.requests().join("\n");
    assert!(!seen_by_stripe.contains(&records_name));
    let data = relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("consent", consent_bytes),
            ("consent name", consent_name.into_bytes()),
            ("records", records_bytes),
            ("records name", records_name.into_bytes()),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

tests::in_every_engine!(
    a_request_link,
    a_request_link_refuses_substituted_keys_and_takes_the_right_ones
);

/// The doctor asks in Chromium; the provider, who may use any browser, answers in `engine`.
async fn a_request_link_refuses_substituted_keys_and_takes_the_right_ones(
    engine: Engine,
) -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let clinic =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "clinic", KeyPair::Alice)
            .await?;
    let doctor_api = clinic.invite("doctor", Role::Member, KeyPair::Bob).await?;
    let proxy = TamperingProxy::start(&relay.url).await?;
    let browser = Browser::start().await?;
    let doctor = browser.session().await?;
    log_in(&doctor, &relay.url, "doctor@example.com").await?;
    let description = marker("Your signed intake form");
    let link = request_by_link(&doctor, &description, &["clinic@example.com"]).await?;
    let fragment = link.split('#').nth(1).context("a fragment")?.to_owned();

    // A relay that serves other keys: the uploader's browser refuses to encrypt.
    let swapped = shared::encoding::encode(&KeyPair::Alice.public_spki()?);
    let doctor_id = doctor_api.id()?.to_string();
    proxy.tamper(Box::new(move |_path: &str, body: &mut Value| {
        substitute_keys(body, std::slice::from_ref(&doctor_id), &swapped);
    }));
    let providers = Browser::of(engine).await?;
    let provider = providers.session().await?;
    provider.goto(&link.replace(&relay.url, &proxy.url)).await?;
    provider
        .wait_for_text(
            "[data-testid=key-warning]",
            "not the ones this link was made for",
        )
        .await?;
    let forms = provider
        .eval("return document.querySelectorAll('[data-testid=provide-form]').length;")
        .await?;
    assert_eq!(forms, serde_json::json!(0), "no upload is offered");
    let address = provider.client.current_url().await?;
    assert!(
        address.fragment().is_none(),
        "the fragment left the address bar"
    );

    // The honest relay: the upload goes through, encrypted to exactly the digest's keys.
    proxy.behave();
    let honest = providers.session().await?;
    honest.goto(&link).await?;
    honest
        .wait_for_text("[data-testid=request-description]", &description)
        .await?;
    let folder = tempfile::tempdir()?;
    let (form, form_name, form_bytes) = file_in(folder.path(), "intake-form")?;
    honest
        .find("input[name=provide-files]")
        .await?
        .send_keys(&form.display().to_string())
        .await?;
    let note = marker("Jane Roe, phone 555-0100");
    honest.fill("textarea[name=provide-note]", &note).await?;
    honest
        .click("[data-testid=provide-form] button[type=submit]")
        .await?;
    honest.find("[data-testid=provide-done]").await?;

    let requests: Vec<wire::RequestView> = doctor_api.get("/api/requests").await?.ok()?;
    let answer = requests[0].fulfilments.first().context("an answer")?.id;
    let read = doctor_api
        .read_document(answer)
        .await?
        .map_err(|refusal| anyhow::anyhow!("{refusal:?}"))?;
    assert_eq!(read.files, vec![form_bytes.clone()]);
    assert_eq!(read.names, vec![form_name.clone()]);
    assert_eq!(read.note.as_deref(), Some(note.as_str()));

    let secret = fragment.split('.').next().context("the secret")?.to_owned();
    let secret_bytes = shared::encoding::decode(&secret)?;
    let data = relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("form", form_bytes),
            ("form name", form_name.into_bytes()),
            ("note", note.into_bytes()),
            ("fragment", fragment.clone().into_bytes()),
            ("secret (text)", secret.into_bytes()),
            ("secret (bytes)", secret_bytes),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_portal_drop_reaches_the_intake_user_and_an_admin_sees_only_a_lock() -> anyhow::Result<()>
{
    let relay = TestRelay::start().await?;
    let owner =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "lawfirm", KeyPair::Bob)
            .await?;
    owner.invite("intake", Role::Member, KeyPair::Alice).await?;
    owner
        .invite("firmadmin", Role::Admin, KeyPair::Alice)
        .await?;
    let browser = Browser::start().await?;
    let boss = browser.session().await?;
    log_in(&boss, &relay.url, "lawfirm@example.com").await?;
    visit(&boss, "/app/portal").await?;
    boss.click("input[name=portal-enabled]").await?;
    boss.click("input[name=intake][value='intake@example.com']")
        .await?;
    boss.click("form.composer button[type=submit]").await?;
    boss.find("[data-testid=portal-saved]").await?;
    let portal_link = boss
        .find("[data-testid=portal-link]")
        .await?
        .prop("value")
        .await?
        .context("the portal link")?;
    assert!(portal_link.contains("/p/lawfirm#k="), "{portal_link}");

    let folder = tempfile::tempdir()?;
    let (scan, scan_name, scan_bytes) = file_in(folder.path(), "passport-scan")?;
    let stranger = browser.session().await?;
    stranger.goto(&portal_link).await?;
    stranger
        .find("input[name=portal-files]")
        .await?
        .send_keys(&scan.display().to_string())
        .await?;
    let note = marker("John Doe, client no. 77");
    stranger.fill("textarea[name=portal-note]", &note).await?;
    stranger
        .click("[data-testid=portal-form] button[type=submit]")
        .await?;
    stranger.find("[data-testid=portal-done]").await?;
    assert_eq!(
        stranger
            .eval("return document.querySelectorAll('[data-testid=keys-unchecked]').length;")
            .await?,
        serde_json::json!(0),
        "the full portal link checks the keys"
    );
    // The bare address cannot check them, and says so.
    let bare = browser.session().await?;
    bare.goto(&format!("{}/p/lawfirm", relay.url)).await?;
    bare.wait_for_text("[data-testid=keys-unchecked]", "could not check")
        .await?;

    let intake = browser.session().await?;
    log_in(&intake, &relay.url, "intake@example.com").await?;
    visit(&intake, "/app/inbox").await?;
    intake
        .wait_for_text("[data-testid=documents]", "a portal upload")
        .await?;
    intake.click("[data-testid=documents] a").await?;
    assert_eq!(open_and_save(&intake).await?, scan_bytes);
    intake.wait_for_text("[data-testid=note]", &note).await?;

    let admin = browser.session().await?;
    log_in(&admin, &relay.url, "firmadmin@example.com").await?;
    visit(&admin, "/app/inbox").await?;
    admin
        .wait_for_text("[data-testid=documents]", "Limited viewing")
        .await?;
    admin.click("[data-testid=documents] a").await?;
    admin
        .wait_for_text("[data-testid=locked]", "Limited viewing")
        .await?;
    let buttons = admin
        .eval("return document.querySelectorAll('[data-testid=open-document]').length;")
        .await?;
    assert_eq!(
        buttons,
        serde_json::json!(0),
        "an admin manages, and does not read"
    );

    let data = relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("scan", scan_bytes),
            ("scan name", scan_name.into_bytes()),
            ("note", note.into_bytes()),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chart_transfer_reaches_the_other_firm_and_a_changed_key_stops_the_next()
-> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let clinic =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "clinic", KeyPair::Alice)
            .await?;
    clinic.invite("doctor", Role::Member, KeyPair::Bob).await?;
    let firm =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "lawfirm", KeyPair::Bob)
            .await?;
    let intake = firm.invite("intake", Role::Member, KeyPair::Alice).await?;
    firm.put(
        "/api/org/portal",
        &wire::PortalSettings {
            enabled: false,
            intake: vec![intake.id()?],
        },
    )
    .await?
    .ok::<wire::PortalSettings>()?;
    let proxy = TamperingProxy::start(&relay.url).await?;
    let browser = Browser::start().await?;
    let doctor = browser.session().await?;
    log_in(&doctor, &proxy.url, "doctor@example.com").await?;
    let folder = tempfile::tempdir()?;
    let (chart, chart_name, chart_bytes) = file_in(folder.path(), "chart")?;
    let send_transfer = |path: PathBuf| {
        let doctor = &doctor;
        async move {
            // Through the dashboard, so the page starts afresh.
            visit(doctor, "/app").await?;
            visit(doctor, "/app/transfer").await?;
            doctor.fill("input[name=to]", "lawfirm").await?;
            doctor
                .find("input[name=files]")
                .await?
                .send_keys(&path.display().to_string())
                .await?;
            doctor.click("form button[type=submit]").await?;
            anyhow::Ok(())
        }
    };
    send_transfer(chart.clone()).await?;
    // First contact with the firm: its readers are listed with fingerprints and confirmed.
    confirm_readers(&doctor, &["lawfirm@example.com", "intake@example.com"]).await?;
    doctor.find("[data-testid=transfer-done]").await?;

    let reader = browser.session().await?;
    log_in(&reader, &relay.url, "intake@example.com").await?;
    visit(&reader, "/app/inbox").await?;
    reader
        .wait_for_text("[data-testid=documents]", "a chart transfer")
        .await?;
    reader.click("[data-testid=documents] a").await?;
    assert_eq!(open_and_save(&reader).await?, chart_bytes);
    reader
        .wait_for_text("[data-testid=files]", &chart_name)
        .await?;
    let sent: Vec<wire::DocumentView> = clinic.get("/api/documents?box=sent").await?.ok()?;
    let copy = clinic
        .read_document(sent[0].id)
        .await?
        .map_err(|refusal| anyhow::anyhow!("{refusal:?}"))?;
    assert_eq!(
        copy.files,
        vec![chart_bytes],
        "the sender's owner reads the copy"
    );

    // A relay presents another key for the firm's owner under a new user id (pins by id would
    // take it for a new person): the browser pins by handle and address, so it stops.
    let swapped = shared::encoding::encode(&KeyPair::Alice.public_spki()?);
    let firm_owner = firm.id()?.to_string();
    let new_id = Id::generate(&mut shared::crypto::OsRng).to_string();
    proxy.tamper(Box::new(move |_path: &str, body: &mut Value| {
        for_each_reader(body, &mut |reader| {
            if reader["user"] == firm_owner.as_str() {
                reader["user"] = Value::String(new_id.clone());
                reader["public_key"] = Value::String(swapped.clone());
            }
        });
    }));
    let (second, _, _) = file_in(folder.path(), "second-chart")?;
    send_transfer(second.clone()).await?;
    doctor
        .wait_for_text(
            "[data-testid=key-warning]",
            "changed since this browser last encrypted to them",
        )
        .await?;
    doctor
        .wait_for_text("[data-testid=key-warning]", "Owner of lawfirm")
        .await?;

    // A relay adds a reader of its own to the firm's: the browser stops for the new reader.
    let extra_key = shared::encoding::encode(&KeyPair::Alice.public_spki()?);
    proxy.tamper(Box::new(move |_path: &str, body: &mut Value| {
        let extra = serde_json::json!({
            "user": Id::generate(&mut shared::crypto::OsRng).to_string(),
            "name": "Eve Reader",
            "email": "eve@example.com",
            "organisation": "Firm lawfirm",
            "handle": "lawfirm",
            "role": "member",
            "intake": true,
            "public_key": extra_key,
        });
        add_reader(body, &extra);
    }));
    send_transfer(second).await?;
    doctor
        .wait_for_text("[data-testid=key-warning]", "new reader(s)")
        .await?;
    doctor
        .wait_for_text("[data-testid=readers]", "eve@example.com")
        .await?;
    let done = doctor
        .eval("return document.querySelectorAll('[data-testid=transfer-done]').length;")
        .await?;
    assert_eq!(done, serde_json::json!(0), "nothing was sent");
    let received: Vec<wire::DocumentView> = firm.get("/api/documents?box=inbox").await?.ok()?;
    assert_eq!(
        received
            .iter()
            .filter(|document| document.status == wire::DocumentStatus::Ready)
            .count(),
        1,
        "only the first transfer arrived"
    );
    Ok(())
}

/// Calls `change` on every reader (an object with `user` and `public_key`) in `value`.
fn for_each_reader(value: &mut Value, change: &mut dyn FnMut(&mut Value)) {
    match value {
        Value::Object(map) => {
            if map.contains_key("user") && map.contains_key("public_key") {
                change(value);
                return;
            }
            for child in map.values_mut() {
                for_each_reader(child, change);
            }
        }
        Value::Array(items) => {
            for item in items {
                for_each_reader(item, change);
            }
        }
        _ => {}
    }
}

/// Adds `extra` to every `readers` list in `value`.
fn add_reader(value: &mut Value, extra: &Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "readers"
                    && let Value::Array(readers) = child
                {
                    readers.push(extra.clone());
                } else {
                    add_reader(child, extra);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                add_reader(item, extra);
            }
        }
        _ => {}
    }
}
