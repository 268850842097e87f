//! The whole pay flow in real browsers against the local Stripe stand-in (the recipient in
//! Chromium, Firefox and WebKit): a sender
//! attaches an invoice in the composer; the recipient's page shows it and offers no password
//! field; "Pay" leaves for the stand-in's checkout page, which redirects back; the page
//! restores the link secret it kept in `sessionStorage` (the secret never reached the relay or
//! the payment processor), waits for the signed webhook's confirmation, asks for the one-time
//! password and decrypts the files byte for byte; the kept secret is forgotten once the files
//! are delivered. Without Stripe, the page says only payment by
//! hand is possible, and the payee's "mark paid" in the Sent list unlocks the link.

use anyhow::Context as _;
use tests::flows::{Extras, marker, operator_finds, send_files_with, use_downloads};
use tests::{Browser, Engine, StripeStandIn, TestRelay};

tests::in_every_engine!(
    the_recipient_pays_by_card,
    the_recipient_pays_by_card_and_the_link_secret_survives_the_redirect
);

async fn the_recipient_pays_by_card_and_the_link_secret_survives_the_redirect(
    engine: Engine,
) -> anyhow::Result<()> {
    let stripe = StripeStandIn::start().await?;
    let relay = TestRelay::start_with(|config| stripe.configure(config)).await?;
    stripe.deliver_to(&relay.url);
    let browser = Browser::start().await?;
    let sender = browser.session().await?;
    tests::verified_sender(&sender, &relay.url, relay.data_dir(), "records").await?;

    let folder = tempfile::tempdir()?;
    let content = marker("CHART");
    let name = format!("{}.pdf", marker("chart"));
    let file = folder.path().join(&name);
    std::fs::write(&file, content.as_bytes())?;
    let otp = marker("otp");
    let extras = Extras {
        invoice: Some(("12.50", "eur", "Copy of medical records")),
        ..Extras::default()
    };
    let link = send_files_with(&sender, &relay.url, &[file], &otp, &extras).await?;
    let fragment = link.split('#').nth(1).context("a fragment")?.to_owned();

    let recipients = Browser::of(engine).await?;
    let recipient = recipients.session().await?;
    recipient.goto(&link).await?;
    recipient
        .wait_for_text("[data-testid=invoice-amount]", "12.50 EUR")
        .await?;
    recipient
        .wait_for_text("[data-testid=pay-first]", "Nothing can be decrypted")
        .await?;
    let fields = recipient
        .eval("return document.querySelectorAll('input[name=otp]').length;")
        .await?;
    assert_eq!(fields, serde_json::json!(0), "no password before payment");

    recipient.click("[data-testid=pay]").await?;
    recipient.find("button[value=card]").await?;
    let at_checkout = recipient.client.current_url().await?;
    assert!(
        at_checkout.as_str().starts_with(&stripe.url),
        "left for the processor: {at_checkout}"
    );
    assert!(at_checkout.fragment().is_none());
    recipient.click("button[value=card]").await?;

    // Back on the link page, without the fragment in the address: the secret comes from the
    // tab's storage; the password field appears once the webhook confirmed the payment.
    recipient
        .wait_for_text("[data-testid=invoice-status]", "paid")
        .await?;
    let back = recipient.client.current_url().await?;
    assert!(back.as_str().starts_with(&relay.url), "{back}");
    assert!(
        back.fragment().is_none() && back.query().is_none(),
        "{back}"
    );
    recipient.fill("input[name=otp]", &otp).await?;
    recipient.click("form button[type=submit]").await?;
    recipient.find("[data-testid=opened]").await?;
    assert!(recipient.text("[data-testid=files]").await?.contains(&name));
    use_downloads(&recipient).await?;
    recipient.click("[data-testid=save-all]").await?;
    recipient.find("[data-testid=delivered]").await?;
    let kept = recipient
        .eval("return window.sessionStorage.length;")
        .await?;
    assert_eq!(
        kept,
        serde_json::json!(0),
        "the kept secret is forgotten once the files are delivered"
    );
    let saved = recipient.wait_for_downloads(1).await?;
    assert_eq!(std::fs::read(&saved[0])?, content.as_bytes());

    sender.goto(&format!("{}/app/sent", relay.url)).await?;
    sender
        .wait_for_text("[data-testid=send-payment]", "12.50 EUR · paid")
        .await?;
    sender.goto(&format!("{}/app/payouts", relay.url)).await?;
    sender
        .wait_for_text("[data-testid=owed]", "12.50 EUR")
        .await?;

    let seen_by_stripe = stripe.requests().join("\n");
    for (what, needle) in [
        ("link secret", &fragment),
        ("otp", &otp),
        ("content", &content),
    ] {
        assert!(
            !seen_by_stripe.contains(needle.as_str()),
            "the processor saw the {what}"
        );
    }
    let secret = shared::encoding::decode(&fragment)?;
    let data = relay.stop_keeping_data().await?;
    let hits = operator_finds(
        data.path(),
        &[
            ("content", content.into_bytes()),
            ("file name", name.into_bytes()),
            ("otp", otp.into_bytes()),
            ("link secret (text)", fragment.into_bytes()),
            ("link secret (bytes)", secret),
        ],
    );
    assert!(hits.is_empty(), "the operator could read: {hits:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_stripe_the_payee_marks_paid_by_hand_and_the_link_opens() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let sender = browser.session().await?;
    tests::verified_sender(&sender, &relay.url, relay.data_dir(), "bytransfer").await?;
    let folder = tempfile::tempdir()?;
    let file = folder.path().join("statement.txt");
    std::fs::write(&file, b"statement of account")?;
    let extras = Extras {
        invoice: Some(("1250", "JPY", "Statement fee")),
        ..Extras::default()
    };
    let link = send_files_with(&sender, &relay.url, &[file], "transfer-otp", &extras).await?;

    let recipient = browser.session().await?;
    recipient.goto(&link).await?;
    recipient
        .wait_for_text("[data-testid=manual-only]", "takes no card payments")
        .await?;
    recipient
        .wait_for_text("[data-testid=invoice-amount]", "1250 JPY")
        .await?;
    // A reload while waiting for payment keeps the link: the address bar no longer has the
    // secret, the tab does.
    recipient.client.refresh().await?;
    recipient
        .wait_for_text("[data-testid=manual-only]", "takes no card payments")
        .await?;

    sender.goto(&format!("{}/app/sent", relay.url)).await?;
    sender
        .wait_for_text("[data-testid=send-payment]", "waiting for payment")
        .await?;
    sender
        .fill(
            "[data-testid=mark-paid] input[name=reference]",
            "transfer 2026-12-01/77",
        )
        .await?;
    sender
        .click("[data-testid=mark-paid] button[type=submit]")
        .await?;
    sender
        .wait_for_text("[data-testid=send-payment]", "1250 JPY · paid")
        .await?;

    // The recipient's page, still open, notices the payment by itself.
    recipient.fill("input[name=otp]", "transfer-otp").await?;
    recipient.click("form button[type=submit]").await?;
    recipient.find("[data-testid=opened]").await?;
    sender.goto(&format!("{}/app/payouts", relay.url)).await?;
    sender
        .wait_for_text("[data-testid=ledger]", "transfer 2026-12-01/77")
        .await?;
    sender
        .wait_for_text("[data-testid=no-cards]", "takes no card payments")
        .await?;
    // The ledger's CSV export: a header and the payment, amount with the currency's decimals.
    sender.click("[data-testid=ledger-csv]").await?;
    let saved = sender.wait_for_downloads(1).await?;
    let csv = std::fs::read_to_string(&saved[0])?;
    assert!(
        csv.starts_with("seq,time_utc,kind,method,invoice,amount,currency,reference\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(",payment,manual,") && csv.contains(",1250,JPY,transfer 2026-12-01/77"),
        "{csv}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_composer_refuses_an_invoice_it_cannot_express_exactly() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let sender = browser.session().await?;
    tests::verified_sender(&sender, &relay.url, relay.data_dir(), "precise").await?;
    let folder = tempfile::tempdir()?;
    let file = folder.path().join("a.txt");
    std::fs::write(&file, b"a")?;
    sender.goto(&format!("{}/app/send", relay.url)).await?;
    sender
        .find("input[name=files]")
        .await?
        .send_keys(&file.display().to_string())
        .await?;
    // The composer offers a generated password: 14 characters without look-alikes, a new one
    // on request.
    let offered = sender
        .find("input[name=otp]")
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
    assert!(
        offered.len() == 14
            && offered
                .chars()
                .all(|c| "23456789abcdefghjkmnpqrstuvwxyz".contains(c)),
        "{offered:?}"
    );
    sender.click("[data-testid=otp-new]").await?;
    let another = sender
        .find("input[name=otp]")
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
    assert!(another.len() == 14 && another != offered, "{another:?}");
    sender.replace("input[name=otp]", "123456").await?;
    sender.click("input[name=charge]").await?;
    sender.fill("input[name=amount]", "12.505").await?;
    sender
        .fill("input[name=invoice-description]", "rounding")
        .await?;
    sender.click("form button[type=submit]").await?;
    sender
        .wait_for_text("[data-testid=send-error]", "at most 2 decimal place")
        .await?;
    let sent = sender
        .eval("return document.querySelectorAll('[data-testid=link]').length;")
        .await?;
    assert_eq!(sent, serde_json::json!(0), "nothing was sent");
    Ok(())
}
