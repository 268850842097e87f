//! The `sealpost` command line against a real relay, and with the browser both ways (issue 18):
//! a link the command line makes opens in headless Chromium with identical bytes, and a link
//! made in Chromium opens with the command line; a request by link made in Chromium is answered
//! from the command line and read both in Chromium and with `sealpost document get`; an
//! interrupted download goes on where it stopped without spending a second open. Secrets reach
//! the command line as files and environment only, and the operator finds none of them.

use anyhow::Context as _;
use serde_json::Value;
use shared::ids::Id;
use shared::wire::{self, ApiScope, Role};
use tests::cli::CommandLine;
use tests::flows::{
    log_in, marker, open_with, operator_finds, pseudo_random, request_by_link, unzip,
    use_downloads, visit,
};
use tests::native::{KeyPair, NativeClient};
use tests::{Browser, TestRelay};

/// An organisation's owner (made natively) and an API key of theirs with every scope.
async fn owner_with_key(relay: &TestRelay, handle: &str) -> anyhow::Result<(NativeClient, String)> {
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), handle).await?;
    let key = owner
        .make_api_key("practice system", &ApiScope::ALL)
        .await?;
    Ok((owner, key))
}

/// `open LINK --out OUT --otp-file OTP`.
fn open_args(link: &str, out: &std::path::Path, otp: &std::path::Path) -> [String; 6] {
    [
        "open".to_owned(),
        link.to_owned(),
        "--out".to_owned(),
        out.display().to_string(),
        "--otp-file".to_owned(),
        otp.display().to_string(),
    ]
}

fn sent(cli_sends: &Value, id: &str) -> anyhow::Result<Value> {
    cli_sends
        .as_array()
        .and_then(|sends| sends.iter().find(|send| send["id"] == id))
        .cloned()
        .with_context(|| format!("send {id} in {cli_sends}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn links_made_by_the_cli_open_in_chromium_and_links_made_in_chromium_open_with_the_cli()
-> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let (_owner, key) = owner_with_key(&relay, "clifirm").await?;
    let cli = CommandLine::new()?.with_api_key(&relay.url, &key);
    let folder = tempfile::tempdir()?;
    let content = marker("CLI-CONTENT");
    let mut scan = pseudo_random(3 * 1024 * 1024 + 17, 7);
    scan[1000..1000 + content.len()].copy_from_slice(content.as_bytes());
    let scan_name = format!("{}.bin", marker("scan"));
    let letter = format!("%PDF-1.4 {}", marker("LETTER")).into_bytes();
    std::fs::write(folder.path().join(&scan_name), &scan)?;
    std::fs::write(folder.path().join("letter.pdf"), &letter)?;
    let otp = marker("otp");
    let otp_file = cli.secret_file("otp", &otp)?;
    let note = marker("NOTE");

    // The command line sends; Chromium opens and saves both files.
    let made = cli
        .json(&[
            "send",
            &folder.path().join(&scan_name).display().to_string(),
            &folder.path().join("letter.pdf").display().to_string(),
            "--otp-file",
            &otp_file.display().to_string(),
            "--expires",
            "2d",
            "--note",
            &note,
        ])
        .await?;
    let link = made["link"].as_str().context("a link")?.to_owned();
    let id = made["id"].as_str().context("an id")?.to_owned();
    assert!(
        link.starts_with(&format!("{}/l/{id}#", relay.url)),
        "{link}"
    );
    assert!(
        made.get("otp").is_none(),
        "a password given is not printed back"
    );
    let before: Value = cli.json(&["sent"]).await?;
    assert_eq!(sent(&before, &id)?["status"], "waiting");

    let browser = Browser::start().await?;
    let recipient = browser.session().await?;
    open_with(&recipient, &link, &otp).await?;
    recipient.find("[data-testid=opened]").await?;
    recipient.wait_for_text("[data-testid=note]", &note).await?;
    use_downloads(&recipient).await?;
    recipient.click("[data-testid=save-all]").await?;
    recipient.find("[data-testid=delivered]").await?;
    let downloads = recipient.wait_for_downloads(1).await?;
    let archive = unzip(&downloads[0])?;
    assert!(
        archive
            == vec![
                (scan_name.clone(), scan.clone()),
                ("letter.pdf".to_owned(), letter.clone())
            ],
        "Chromium saved other bytes than the command line sent"
    );
    let after: Value = cli.json(&["sent"]).await?;
    assert_eq!(sent(&after, &id)?["status"], "delivered");
    assert_eq!(sent(&after, &id)?["opens"], 1);

    // Chromium sends; the command line (no account, no key) opens.
    let sender = browser.session().await?;
    tests::verified_sender(&sender, &relay.url, relay.data_dir(), "browserfirm").await?;
    let browser_otp = marker("otp");
    let browser_note = marker("BROWSER-NOTE");
    let browser_link = tests::flows::send_files(
        &sender,
        &relay.url,
        &[
            folder.path().join(&scan_name),
            folder.path().join("letter.pdf"),
        ],
        &browser_otp,
        None,
        Some(&browser_note),
    )
    .await?;
    let anyone = CommandLine::new()?;
    let wrong = anyone.secret_file("wrong", "not-the-password")?;
    let out = folder.path().join("received");
    // A file of the same name already there is kept; the received one gets another name.
    std::fs::create_dir(&out)?;
    std::fs::write(out.join("letter.pdf"), b"already here")?;
    let refused = anyone
        .output(
            &open_args(&browser_link, &out, &wrong)
                .each_ref()
                .map(String::as_str),
        )
        .await?;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("wrong_otp"),
        "a wrong password is named: {said}"
    );
    let right = anyone.secret_file("right", &browser_otp)?;
    let opened = anyone
        .json(
            &open_args(&browser_link, &out, &right)
                .each_ref()
                .map(String::as_str),
        )
        .await?;
    assert_eq!(opened["delivered"], true, "{opened}");
    assert_eq!(opened["note"], browser_note.as_str());
    assert_eq!(
        std::fs::read(out.join(&scan_name))?,
        scan,
        "the command line decrypted other bytes"
    );
    assert_eq!(std::fs::read(out.join("letter (2).pdf"))?, letter);
    assert_eq!(std::fs::read(out.join("letter.pdf"))?, b"already here");
    let left: Vec<_> = std::fs::read_dir(&out)?
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert_eq!(left.len(), 3, "no progress file or part left: {left:?}");
    sender.goto(&format!("{}/app/sent", relay.url)).await?;
    sender
        .wait_for_text("[data-testid=send-status]", "delivered")
        .await?;

    let fragment = link.split('#').nth(1).context("a fragment")?.to_owned();
    let data = relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("content", content.into_bytes()),
            ("file name", scan_name.into_bytes()),
            ("note", note.into_bytes()),
            ("otp", otp.into_bytes()),
            ("link secret", fragment.into_bytes()),
            ("api key", key.into_bytes()),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_made_in_chromium_is_answered_from_the_cli_and_read_in_chromium_and_the_cli()
-> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let clinic =
        NativeClient::verified_owner_with(&relay.url, relay.data_dir(), "clinic", KeyPair::Alice)
            .await?;
    let _doctor_api = clinic.invite("doctor", Role::Member, KeyPair::Bob).await?;
    let browser = Browser::start().await?;
    let doctor = browser.session().await?;
    log_in(&doctor, &relay.url, "doctor@example.com").await?;
    let description = marker("Your signed intake form");
    let link = request_by_link(&doctor, &description, &["clinic@example.com"]).await?;

    let provider = CommandLine::new()?;
    let folder = tempfile::tempdir()?;
    let form_name = format!("{}.pdf", marker("intake-form"));
    let form = pseudo_random(1024 * 1024 + 5, 11);
    std::fs::write(folder.path().join(&form_name), &form)?;
    let form_path = folder.path().join(&form_name).display().to_string();
    // A link whose key digest is not the readers' (a relay substituting keys): refused before
    // anything is reserved.
    let (address, fragment) = link.split_once('#').context("a fragment")?;
    let secret = fragment.split('.').next().context("the secret")?;
    let forged = format!(
        "{address}#{secret}.{}",
        shared::encoding::encode(&[9_u8; 32])
    );
    let refused = provider
        .output(&[
            "request",
            "answer",
            &form_path,
            "--link-file",
            &provider
                .secret_file("forged", &forged)?
                .display()
                .to_string(),
        ])
        .await?;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("other readers"), "{said}");

    // A request link is a key: never taken as an argument (shell history, `ps`).
    let as_argument = provider
        .output(&["request", "answer", &link, &form_path])
        .await?;
    assert!(!as_argument.status.success());
    let said = String::from_utf8_lossy(&as_argument.stderr);
    assert!(said.contains("--link-file"), "{said}");

    let note = marker("Jane Roe, phone 555-0100");
    let answered = provider
        .json(&[
            "request",
            "answer",
            &form_path,
            "--link-file",
            &provider.secret_file("link", &link)?.display().to_string(),
            "--note",
            &note,
        ])
        .await?;
    let document = answered["document"]
        .as_str()
        .context("a document id")?
        .to_owned();
    Id::parse(&document)?;

    // Read in Chromium by the requester…
    visit(&doctor, &format!("/app/documents/{document}")).await?;
    doctor.click("[data-testid=open-document]").await?;
    doctor
        .wait_for_text("[data-testid=files]", &form_name)
        .await?;
    doctor.wait_for_text("[data-testid=note]", &note).await?;
    doctor.click("[data-testid=save-file]").await?;
    let saved = doctor.wait_for_downloads(1).await?;
    assert_eq!(std::fs::read(&saved[0])?, form, "Chromium read other bytes");

    // …and with the command line, logged in as the requester (password from a file).
    let reader = CommandLine::new()?;
    let password = reader.secret_file("password", tests::PASSWORD)?;
    let out = folder.path().join("read");
    let fetched = reader
        .command(&[
            "--json",
            "document",
            "get",
            &document,
            "--email",
            "doctor@example.com",
            "--password-file",
            &password.display().to_string(),
            "--out",
            &out.display().to_string(),
        ])
        .env("SEALPOST_URL", &relay.url)
        .output()
        .await?;
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let fetched: Value = serde_json::from_slice(&fetched.stdout)?;
    assert_eq!(fetched["note"], note.as_str());
    assert_eq!(
        std::fs::read(out.join(&form_name))?,
        form,
        "the command line read other bytes"
    );

    // An API key holds no private key: its request by link works, and the document it asks
    // for is read by a person.
    let data = relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("form name", form_name.into_bytes()),
            ("note", note.into_bytes()),
            ("form", form[4096..4160].to_vec()),
            ("request secret", secret.as_bytes().to_vec()),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_cli_download_goes_on_without_spending_a_second_open() -> anyhow::Result<()>
{
    let relay = TestRelay::start().await?;
    let (owner, key) = owner_with_key(&relay, "bigfirm").await?;
    let cli = CommandLine::new()?.with_api_key(&relay.url, &key);
    let folder = tempfile::tempdir()?;
    let big = pseudo_random(48 * 1024 * 1024 + 3, 5);
    let path = folder.path().join("chart.bin");
    std::fs::write(&path, &big)?;
    let otp = marker("otp");
    let otp_file = cli.secret_file("otp", &otp)?;
    let made = cli
        .json(&[
            "send",
            &path.display().to_string(),
            "--otp-file",
            &otp_file.display().to_string(),
        ])
        .await?;
    let link = made["link"].as_str().context("a link")?.to_owned();
    let id = made["id"].as_str().context("an id")?.to_owned();

    // A request made by the key: by link, readable by the owner, listed by the key.
    let request = cli
        .json(&[
            "request",
            "create",
            "--description",
            "Discharge letter",
            "--due",
            "14d",
        ])
        .await?;
    assert!(
        request["link"]
            .as_str()
            .is_some_and(|link| link.contains("/r/")),
        "{request}"
    );
    let listed: Value = cli.json(&["request", "list"]).await?;
    assert_eq!(listed[0]["description"], "Discharge letter");

    // Behind an invoice: the link does not open until it is paid, and says so.
    let bill = folder.path().join("bill.pdf");
    std::fs::write(&bill, b"%PDF-1.4 records")?;
    let invoiced = cli
        .json(&[
            "send",
            &bill.display().to_string(),
            "--otp-file",
            &otp_file.display().to_string(),
            "--invoice",
            "120.50EUR",
            "--invoice-description",
            "Copying fee",
        ])
        .await?;
    let invoiced_link = invoiced["link"].as_str().context("a link")?.to_owned();
    let payer = CommandLine::new()?;
    let paid_out = folder.path().join("paid");
    let open_paid = open_args(&invoiced_link, &paid_out, &otp_file);
    let open_paid = open_paid.each_ref().map(String::as_str);
    let unpaid = payer.output(&open_paid).await?;
    assert!(!unpaid.status.success());
    let said = String::from_utf8_lossy(&unpaid.stderr);
    assert!(
        said.contains("120.50 EUR") && said.contains("payment_required") && said.contains("pay"),
        "{said}"
    );
    let invoiced_sends: Value = cli.json(&["sent"]).await?;
    let invoice =
        sent(&invoiced_sends, invoiced["id"].as_str().context("an id")?)?["invoice"]["id"]
            .as_str()
            .context("the send's invoice")?
            .to_owned();
    owner
        .post(
            &format!("/api/invoices/{invoice}/mark-paid"),
            Some(&wire::MarkPaidRequest {
                reference: "Bank transfer".to_owned(),
            }),
        )
        .await?
        .ok::<wire::InvoiceView>()?;
    payer.json(&open_paid).await?;
    assert_eq!(
        std::fs::read(paid_out.join("bill.pdf"))?,
        b"%PDF-1.4 records"
    );

    let recipient = CommandLine::new()?;
    let out = folder.path().join("out");
    let part = out.join(format!(".sealpost-{id}-0.part"));
    // One download into a folder at a time: while another holds the download's lock, this one
    // refuses before it opens anything.
    std::fs::create_dir_all(&out)?;
    let held = std::fs::File::create(out.join(format!(".sealpost-{id}.lock")))?;
    held.lock()?;
    let busy = recipient
        .output(
            &open_args(&link, &out, &otp_file)
                .each_ref()
                .map(String::as_str),
        )
        .await?;
    assert!(!busy.status.success());
    let said = String::from_utf8_lossy(&busy.stderr);
    assert!(said.contains("another sealpost"), "{said}");
    drop(held);
    let mut first = recipient
        .command(
            &open_args(&link, &out, &otp_file)
                .each_ref()
                .map(String::as_str),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let written = std::fs::metadata(&part).map(|meta| meta.len()).unwrap_or(0);
        if written >= 20 * 1024 * 1024 {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the download did not start"
        );
        anyhow::ensure!(
            first.try_wait()?.is_none(),
            "the download ended before it could be cut"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    first.start_kill()?;
    first.wait().await?;
    let cut = std::fs::metadata(&part)?.len();
    assert!(cut < big.len() as u64, "cut before the end ({cut} bytes)");
    // The progress is kept, with the first 16 chunks known to be on disk: the resume goes
    // on from the middle of the file.
    let kept: Value =
        serde_json::from_slice(&std::fs::read(out.join(format!(".sealpost-{id}.json")))?)?;
    assert!(
        kept["synced"][0]
            .as_u64()
            .is_some_and(|chunks| chunks >= 16),
        "{}",
        kept["synced"]
    );

    let resumed = recipient
        .json(
            &open_args(&link, &out, &otp_file)
                .each_ref()
                .map(String::as_str),
        )
        .await?;
    assert_eq!(resumed["delivered"], true, "{resumed}");
    assert!(
        std::fs::read(out.join("chart.bin"))? == big,
        "the resumed file differs"
    );
    assert!(!part.exists() && !out.join(format!(".sealpost-{id}.json")).exists());
    let sends: Value = cli.json(&["sent"]).await?;
    let send = sent(&sends, &id)?;
    assert_eq!(send["opens"], 1, "one open for the whole download: {send}");
    assert_eq!(send["status"], "delivered");
    Ok(())
}
