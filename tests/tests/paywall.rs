//! The paywall through the relay's HTTP API, against the local Stripe stand-in (a real HTTP
//! server that speaks Stripe's API and signs webhooks as Stripe does): an unpaid link refuses
//! even the right one-time password, without spending a try; card checkout and a confirmed,
//! signed webhook unlock it; forged, stale, replayed and reordered webhooks are refused or
//! absorbed; a refund before opening locks the link again; the payee marks paid by hand; and
//! the ledger and payout report balance to the cent in every currency.

use serde_json::{Value, json};
use shared::money::Currency;
use shared::wire::{self, InvoiceStatus};
use tests::TestRelay;
use tests::native::{NativeClient, SentLink};
use tests::stripe::{StripeStandIn, signature_header};

struct World {
    relay: TestRelay,
    stripe: StripeStandIn,
    owner: NativeClient,
    anyone: NativeClient,
}

async fn world(handle: &str) -> anyhow::Result<World> {
    let stripe = StripeStandIn::start().await?;
    let relay = TestRelay::start_with(|config| stripe.configure(config)).await?;
    stripe.deliver_to(&relay.url);
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), handle).await?;
    let anyone = NativeClient::anonymous(&relay.url);
    Ok(World {
        relay,
        stripe,
        owner,
        anyone,
    })
}

fn terms(minor: u64, currency: &str) -> wire::InvoiceTerms {
    wire::InvoiceTerms {
        amount_minor: minor,
        currency: Currency::parse(currency).unwrap_or_else(|error| panic!("{error}")),
        description: format!("Copy of the file ({currency})"),
    }
}

fn files() -> Vec<Vec<u8>> {
    vec![
        b"the invoice pays for these bytes".to_vec(),
        vec![7_u8; 1_500_000],
    ]
}

impl World {
    async fn info(&self, link: &SentLink) -> anyhow::Result<wire::LinkInfo> {
        self.anyone
            .get(&format!("/api/links/{}", link.id))
            .await?
            .ok()
    }

    async fn invoice(&self, link: &SentLink) -> anyhow::Result<wire::InvoiceView> {
        self.info(link)
            .await?
            .invoice
            .ok_or_else(|| anyhow::anyhow!("the link has an invoice"))
    }

    /// Starts a card checkout for the link's invoice as its recipient; the session id.
    async fn checkout(&self, link: &SentLink) -> anyhow::Result<String> {
        let invoice = self.invoice(link).await?;
        // The request claims another origin: the payer must still come back to this relay
        // (its configured public_url), never to an address the request names.
        let answer: wire::CheckoutResponse = self
            .anyone
            .post_with(
                &format!("/api/invoices/{}/checkout", invoice.id),
                &(),
                &[("origin", "https://attacker.example")],
            )
            .await?
            .ok()?;
        let id = answer
            .url
            .rsplit('/')
            .next()
            .ok_or_else(|| anyhow::anyhow!("a checkout URL"))?
            .to_owned();
        anyhow::ensure!(answer.url.starts_with(&self.stripe.url), "{}", answer.url);
        Ok(id)
    }

    async fn status(&self, link: &SentLink) -> anyhow::Result<InvoiceStatus> {
        Ok(self.invoice(link).await?.status)
    }

    async fn report(&self) -> anyhow::Result<wire::PayoutReport> {
        self.owner.get("/api/org/payouts").await?.ok()
    }
}

fn outcome(delivery: &tests::stripe::Delivery) -> String {
    serde_json::from_str::<Value>(&delivery.body)
        .ok()
        .and_then(|body| body["outcome"].as_str().map(str::to_owned))
        .unwrap_or_else(|| delivery.body.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unpaid_link_refuses_the_right_password_until_a_confirmed_card_payment()
-> anyhow::Result<()> {
    let world = world("clinic").await?;
    let link = world
        .owner
        .send_files(&files(), 1, Some(terms(1250, "EUR")))
        .await?;
    let info = world.info(&link).await?;
    assert!(info.card_payments);
    let invoice = info
        .invoice
        .clone()
        .ok_or_else(|| anyhow::anyhow!("an invoice"))?;
    assert_eq!(
        (
            invoice.amount_minor,
            invoice.currency.code(),
            invoice.status
        ),
        (1250, "EUR", InvoiceStatus::Open)
    );
    assert_eq!(invoice.payee, "Firm clinic");

    let refused = world
        .anyone
        .open_link(&link, &link.otp)
        .await?
        .expect_err("nothing opens before payment");
    assert_eq!((refused.status, refused.code()), (402, "payment_required"));
    assert_eq!(
        world.info(&link).await?.attempts_left,
        5,
        "a refusal for payment spends no try"
    );

    let session = world.checkout(&link).await?;
    let stored = world
        .stripe
        .session(&session)
        .ok_or_else(|| anyhow::anyhow!("a session"))?;
    assert_eq!(stored["amount_total"], 1250);
    assert_eq!(stored["currency"], "eur");
    assert_eq!(stored["metadata"]["invoice_id"], invoice.id.to_string());
    assert_eq!(
        stored["success_url"].as_str(),
        Some(
            format!(
                "{}/l/{}?checkout={{CHECKOUT_SESSION_ID}}",
                world.relay.url, link.id
            )
            .as_str()
        ),
        "{stored}"
    );
    assert_eq!(
        world.checkout(&link).await?,
        session,
        "a second click reuses the open session"
    );
    assert_eq!(world.stripe.session_count(), 1);

    let completed = world.stripe.pay(&session, false)?;
    let delivery = world.stripe.deliver(&completed).await?;
    assert_eq!(
        (delivery.status, outcome(&delivery).as_str()),
        (200, "applied")
    );
    assert_eq!(world.status(&link).await?, InvoiceStatus::Paid);
    assert!(
        world
            .stripe
            .requests()
            .iter()
            .any(|line| line == &format!("GET /v1/checkout/sessions/{session}")),
        "the relay confirmed the payment with Stripe's API before believing the event"
    );
    let received = world
        .anyone
        .open_link(&link, &link.otp)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(received, link.plaintexts);

    let sent: Vec<wire::SendView> = world.owner.get("/api/sends").await?.ok()?;
    let view = sent[0]
        .invoice
        .clone()
        .ok_or_else(|| anyhow::anyhow!("an invoice"))?;
    assert_eq!(
        (view.status, view.method),
        (InvoiceStatus::Paid, Some(wire::PaymentMethod::Stripe))
    );
    let audit: Vec<wire::AuditEntryView> = world.owner.get("/api/org/audit").await?.ok()?;
    for action in ["invoice.checkout", "invoice.paid", "send.open"] {
        assert!(
            audit.iter().any(|entry| entry.action == action),
            "{action} is audited"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_stale_tampered_and_replayed_webhooks_change_nothing() -> anyhow::Result<()> {
    let world = world("lawfirm").await?;
    let link = world
        .owner
        .send_files(&files(), 1, Some(terms(4200, "USD")))
        .await?;
    let session = world.checkout(&link).await?;

    // An event claiming payment for a session Stripe has not seen paid: correctly signed (as
    // if the secret leaked), but Stripe's API says otherwise.
    let mut claim: Value = serde_json::from_str(&world.stripe.event(
        "checkout.session.completed",
        world.stripe.session(&session).unwrap_or_default(),
    ))?;
    claim["data"]["object"]["payment_status"] = json!("paid");
    claim["data"]["object"]["status"] = json!("complete");
    let delivery = world.stripe.deliver(&claim.to_string()).await?;
    assert_eq!(
        (delivery.status, outcome(&delivery).as_str()),
        (200, "not_complete")
    );
    assert_eq!(world.status(&link).await?, InvoiceStatus::Open);

    let completed = world.stripe.pay(&session, false)?;
    let forged = format!(
        "t={},v1={}",
        tests::stripe::now(),
        hex::encode(relay::stripe::sign(
            completed.as_bytes(),
            b"whsec_someone_else",
            tests::stripe::now()
        ))
    );
    let stale = signature_header(&completed, tests::stripe::now() - 301);
    let other_body = signature_header(r#"{"id":"evt_other"}"#, tests::stripe::now());
    let tampered = completed.replace("\"paid\"", "\"paid\" ");
    let fresh = signature_header(&completed, tests::stripe::now());
    for (what, payload, header) in [
        ("no signature", completed.as_str(), None),
        ("another secret", completed.as_str(), Some(forged.as_str())),
        (
            "signed six minutes ago",
            completed.as_str(),
            Some(stale.as_str()),
        ),
        (
            "another body's signature",
            completed.as_str(),
            Some(other_body.as_str()),
        ),
        (
            "a body changed after signing",
            tampered.as_str(),
            Some(fresh.as_str()),
        ),
        ("garbage header", completed.as_str(), Some("v1=zz,t=")),
    ] {
        let delivery = world.stripe.deliver_with(payload, header).await?;
        assert_eq!(delivery.status, 400, "{what}: {}", delivery.body);
        assert!(delivery.body.contains("bad_signature"), "{what}");
        assert_eq!(world.status(&link).await?, InvoiceStatus::Open, "{what}");
    }

    let delivery = world.stripe.deliver(&completed).await?;
    assert_eq!(outcome(&delivery), "applied");
    for _ in 0..3 {
        let replay = world.stripe.deliver(&completed).await?;
        assert_eq!(
            (replay.status, outcome(&replay).as_str()),
            (200, "duplicate")
        );
    }
    let report = world.report().await?;
    assert_eq!(
        report.ledger.len(),
        1,
        "one payment however often it is delivered"
    );
    assert_eq!(report.lines[0].collected_by_card, 4200);

    // A signed body that is not an event, and an oversize body, are clear refusals.
    let junk = "{\"not\": \"an event\"}";
    let delivery = world
        .stripe
        .deliver_with(junk, Some(&signature_header(junk, tests::stripe::now())))
        .await?;
    assert_eq!(delivery.status, 422, "{}", delivery.body);
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let delivery = world.stripe.deliver(&huge).await?;
    assert_eq!(delivery.status, 413, "{}", delivery.body);
    let audit: Vec<wire::AuditEntryView> = world.owner.get("/api/org/audit").await?.ok()?;
    assert_eq!(
        audit
            .iter()
            .filter(|entry| entry.action == "invoice.paid")
            .count(),
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn reordered_events_are_absorbed_and_a_refund_before_opening_locks_the_link()
-> anyhow::Result<()> {
    let world = world("insurer").await?;

    // A bank debit: "succeeded" arrives before "completed (unpaid)"; the late one changes
    // nothing.
    let debit = world
        .owner
        .send_files(&files(), 1, Some(terms(9999, "EUR")))
        .await?;
    let session = world.checkout(&debit).await?;
    let completed = world.stripe.pay(&session, true)?;
    let succeeded = world.stripe.settle(&session, true)?;
    assert_eq!(outcome(&world.stripe.deliver(&succeeded).await?), "applied");
    assert_eq!(world.status(&debit).await?, InvoiceStatus::Paid);
    assert_eq!(
        outcome(&world.stripe.deliver(&completed).await?),
        "absorbed"
    );
    assert_eq!(world.status(&debit).await?, InvoiceStatus::Paid);

    // A debit that fails: processing (the link says so), then open again.
    let failing = world
        .owner
        .send_files(&files(), 1, Some(terms(500, "EUR")))
        .await?;
    let session = world.checkout(&failing).await?;
    let completed = world.stripe.pay(&session, true)?;
    assert_eq!(outcome(&world.stripe.deliver(&completed).await?), "applied");
    assert_eq!(world.status(&failing).await?, InvoiceStatus::Processing);
    let refused = world
        .anyone
        .open_link(&failing, &failing.otp)
        .await?
        .expect_err("a processing payment opens nothing");
    assert_eq!(
        (refused.status, refused.code()),
        (402, "payment_processing")
    );
    let failed = world.stripe.settle(&session, false)?;
    assert_eq!(outcome(&world.stripe.deliver(&failed).await?), "applied");
    assert_eq!(world.status(&failing).await?, InvoiceStatus::Open);

    // A refund delivered before the payment it refunds: kept, then applied when the payment
    // is confirmed, so the link never opens.
    let refunded = world
        .owner
        .send_files(&files(), 1, Some(terms(1250, "GBP")))
        .await?;
    let session = world.checkout(&refunded).await?;
    let completed = world.stripe.pay(&session, false)?;
    let refund = world.stripe.refund(&session, 1250)?;
    assert_eq!(
        outcome(&world.stripe.deliver(&refund).await?),
        "kept_for_later"
    );
    assert_eq!(world.status(&refunded).await?, InvoiceStatus::Open);
    assert_eq!(outcome(&world.stripe.deliver(&completed).await?), "applied");
    assert_eq!(world.status(&refunded).await?, InvoiceStatus::Refunded);
    let refused = world
        .anyone
        .open_link(&refunded, &refunded.otp)
        .await?
        .expect_err("refunded");
    assert_eq!((refused.status, refused.code()), (402, "refunded"));

    // In order: paid, then refunded before anyone opened it: locked again. A partial refund
    // first leaves it open.
    let link = world
        .owner
        .send_files(&files(), 2, Some(terms(2000, "CHF")))
        .await?;
    let session = world.checkout(&link).await?;
    let completed = world.stripe.pay(&session, false)?;
    world.stripe.deliver(&completed).await?;
    let partial = world.stripe.refund(&session, 500)?;
    assert_eq!(outcome(&world.stripe.deliver(&partial).await?), "applied");
    assert_eq!(world.status(&link).await?, InvoiceStatus::Paid);
    let rest = world.stripe.refund(&session, 1500)?;
    assert_eq!(outcome(&world.stripe.deliver(&rest).await?), "applied");
    assert_eq!(
        outcome(&world.stripe.deliver(&partial).await?),
        "duplicate",
        "a replayed older refund"
    );
    let invoice = world.invoice(&link).await?;
    assert_eq!(
        (invoice.status, invoice.refunded_minor),
        (InvoiceStatus::Refunded, 2000)
    );
    let refused = world
        .anyone
        .open_link(&link, &link.otp)
        .await?
        .expect_err("a refund before opening locks the link again");
    assert_eq!(refused.code(), "refunded");
    let checkout = world
        .anyone
        .post::<()>(&format!("/api/invoices/{}/checkout", invoice.id), None)
        .await?;
    assert_eq!(
        checkout.status, 402,
        "a refunded invoice is not paid again by card"
    );

    let report = world.report().await?;
    let pounds = report
        .lines
        .iter()
        .find(|line| line.currency.code() == "GBP")
        .ok_or_else(|| anyhow::anyhow!("a GBP line"))?;
    assert_eq!(
        (pounds.collected_by_card, pounds.refunded, pounds.owed),
        (1250, 1250, 0)
    );
    let audit: Vec<wire::AuditEntryView> = world.owner.get("/api/org/audit").await?.ok()?;
    for action in [
        "invoice.processing",
        "invoice.payment_failed",
        "invoice.refunded",
    ] {
        assert!(audit.iter().any(|entry| entry.action == action), "{action}");
    }
    drop(world.relay);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payee_marks_an_invoice_paid_by_hand_and_nobody_else_can() -> anyhow::Result<()> {
    // No Stripe on this relay: only payment by hand is offered, and the link says so.
    let relay = TestRelay::start().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "notary").await?;
    let stranger = NativeClient::verified_owner(&relay.url, relay.data_dir(), "otherfirm").await?;
    let anyone = NativeClient::anonymous(&relay.url);
    let link = owner
        .send_files(&files(), 1, Some(terms(150_000, "JPY")))
        .await?;
    let info: wire::LinkInfo = anyone.get(&format!("/api/links/{}", link.id)).await?.ok()?;
    assert!(!info.card_payments);
    let invoice = info.invoice.ok_or_else(|| anyhow::anyhow!("an invoice"))?;
    let checkout = anyone
        .post::<()>(&format!("/api/invoices/{}/checkout", invoice.id), None)
        .await?;
    assert_eq!(checkout.status, 409);
    assert!(
        checkout.body["message"]
            .as_str()
            .is_some_and(|text| text.contains("mark the invoice paid")),
        "{checkout:?}"
    );

    let path = format!("/api/invoices/{}/mark-paid", invoice.id);
    let body = wire::MarkPaidRequest {
        reference: "Bank transfer 2026-12-01 ref. 8841".to_owned(),
    };
    assert_eq!(anyone.post(&path, Some(&body)).await?.status, 401);
    assert_eq!(
        stranger.post(&path, Some(&body)).await?.status,
        403,
        "another organisation"
    );
    let empty = wire::MarkPaidRequest {
        reference: "  ".to_owned(),
    };
    assert_eq!(owner.post(&path, Some(&empty)).await?.status, 422);
    let marked: wire::InvoiceView = owner.post(&path, Some(&body)).await?.ok()?;
    assert_eq!(
        (marked.status, marked.method),
        (InvoiceStatus::Paid, Some(wire::PaymentMethod::Manual))
    );
    assert_eq!(owner.post(&path, Some(&body)).await?.status, 409);
    let received = anyone
        .open_link(&link, &link.otp)
        .await?
        .map_err(|answer| anyhow::anyhow!("{answer:?}"))?;
    assert_eq!(received, link.plaintexts);

    let report: wire::PayoutReport = owner.get("/api/org/payouts").await?.ok()?;
    assert_eq!(report.lines[0].collected_directly, 150_000);
    assert_eq!(
        report.lines[0].owed, 0,
        "money paid by hand is not owed by the operator"
    );
    assert_eq!(
        report.ledger[0].reference.as_deref(),
        Some("Bank transfer 2026-12-01 ref. 8841")
    );
    let audit: Vec<wire::AuditEntryView> = owner.get("/api/org/audit").await?.ok()?;
    assert!(
        audit
            .iter()
            .any(|entry| entry.action == "invoice.mark_paid")
    );
    assert_eq!(
        relay_webhook_status(&relay.url).await?,
        404,
        "no webhook endpoint without Stripe"
    );
    Ok(())
}

async fn relay_webhook_status(base: &str) -> anyhow::Result<u16> {
    Ok(reqwest::Client::new()
        .post(format!("{base}/api/stripe/webhook"))
        .body("{}")
        .send()
        .await?
        .status()
        .as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn invoices_with_bad_terms_are_refused_in_words() -> anyhow::Result<()> {
    let world = world("strict").await?;
    for (what, invoice) in [
        (
            "zero",
            json!({"amount_minor": 0, "currency": "EUR", "description": "x"}),
        ),
        (
            "a float",
            json!({"amount_minor": 12.5, "currency": "EUR", "description": "x"}),
        ),
        (
            "negative",
            json!({"amount_minor": -100, "currency": "EUR", "description": "x"}),
        ),
        (
            "too large",
            json!({"amount_minor": 100_000_000_u64, "currency": "EUR", "description": "x"}),
        ),
        (
            "not a currency",
            json!({"amount_minor": 100, "currency": "EURO", "description": "x"}),
        ),
        (
            "no description",
            json!({"amount_minor": 100, "currency": "EUR", "description": "  "}),
        ),
        (
            "a long description",
            json!({"amount_minor": 100, "currency": "EUR", "description": "x".repeat(201)}),
        ),
        (
            "a string amount",
            json!({"amount_minor": "100", "currency": "EUR", "description": "x"}),
        ),
    ] {
        let body = json!({
            "files": [10], "expires_in_seconds": 3600, "max_opens": 1, "invoice": invoice
        });
        let answer = world.owner.post("/api/sends", Some(&body)).await?;
        assert_eq!(answer.status, 422, "{what}: {answer:?}");
        assert!(
            answer.body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let sent: Vec<wire::SendView> = world.owner.get("/api/sends").await?.ok()?;
    assert!(sent.is_empty(), "no refused send left anything behind");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_and_payout_report_balance_to_the_cent_across_currencies() -> anyhow::Result<()>
{
    let world = world("bigfirm").await?;
    let mut expected: std::collections::BTreeMap<&str, (u64, u64, u64, u64)> =
        std::collections::BTreeMap::new();
    // (currency, amount, paid by card?, refunded)
    let plan: [(&str, u64, bool, u64); 7] = [
        ("EUR", 1250, true, 0),
        ("EUR", 1, true, 1),
        ("EUR", 99_999_999, true, 33_333_333),
        ("USD", 9999, false, 0),
        ("USD", 1, true, 0),
        ("JPY", 1250, true, 250),
        ("KWD", 1255, true, 0),
    ];
    for (currency, amount, by_card, refund) in plan {
        let link = world
            .owner
            .send_files(&[b"x".to_vec()], 1, Some(terms(amount, currency)))
            .await?;
        let line = expected.entry(currency).or_default();
        if by_card {
            let session = world.checkout(&link).await?;
            let completed = world.stripe.pay(&session, false)?;
            assert_eq!(outcome(&world.stripe.deliver(&completed).await?), "applied");
            line.0 += amount;
            if refund > 0 {
                let event = world.stripe.refund(&session, refund)?;
                assert_eq!(outcome(&world.stripe.deliver(&event).await?), "applied");
                line.2 += refund;
            }
        } else {
            let invoice = world.invoice(&link).await?;
            world
                .owner
                .post(
                    &format!("/api/invoices/{}/mark-paid", invoice.id),
                    Some(&wire::MarkPaidRequest {
                        reference: "cheque 1001".to_owned(),
                    }),
                )
                .await?
                .ok::<wire::InvoiceView>()?;
            line.1 += amount;
        }
    }
    // Payouts: one by the owner through the API, one by the operator's command.
    let payout = wire::RecordPayoutRequest {
        amount_minor: 50_000_000,
        currency: Currency::parse("EUR")?,
        reference: "SEPA 2026-12".to_owned(),
    };
    world
        .owner
        .post("/api/org/payouts", Some(&payout))
        .await?
        .ok::<wire::LedgerEntryView>()?;
    expected.entry("EUR").or_default().3 += 50_000_000;
    let answer = relay::admin::send(
        world.relay.data_dir(),
        &relay::admin::AdminCommand::PayoutRecord {
            handle: "bigfirm".to_owned(),
            amount: "10".to_owned(),
            currency: "jpy".to_owned(),
            reference: "wire 77".to_owned(),
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("the admin socket answers"))?;
    assert!(answer.ok, "{}", answer.message);
    expected.entry("JPY").or_default().3 += 10;
    let refused = relay::admin::send(
        world.relay.data_dir(),
        &relay::admin::AdminCommand::PayoutRecord {
            handle: "bigfirm".to_owned(),
            amount: "1.001".to_owned(),
            currency: "EUR".to_owned(),
            reference: "too precise".to_owned(),
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("the admin socket answers"))?;
    assert!(!refused.ok, "a sub-cent payout is refused");
    // The operator's command checks a payout as the owner's API does: a reference with a
    // control character (which would garble the report and the ledger's view) is refused.
    let garbled = relay::admin::send(
        world.relay.data_dir(),
        &relay::admin::AdminCommand::PayoutRecord {
            handle: "bigfirm".to_owned(),
            amount: "5".to_owned(),
            currency: "EUR".to_owned(),
            reference: "wire\u{1b}[2J 78".to_owned(),
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("the admin socket answers"))?;
    assert!(!garbled.ok, "a control character is refused");
    assert!(
        garbled.message.contains("give a reference"),
        "{}",
        garbled.message
    );

    let report = world.report().await?;
    assert_eq!(report.lines.len(), expected.len(), "one line per currency");
    for line in &report.lines {
        let (card, direct, refunded, paid_out) = expected[line.currency.code()];
        assert_eq!(
            (
                line.collected_by_card,
                line.collected_directly,
                line.refunded,
                line.paid_out
            ),
            (card, direct, refunded, paid_out),
            "{}",
            line.currency
        );
        let owed = i128::from(card) - i128::from(refunded) - i128::from(paid_out);
        assert_eq!(i128::from(line.owed), owed, "{}", line.currency);
        // The ledger's entries of this currency sum to the same figures.
        let sum = |kind: wire::LedgerKind| -> u64 {
            report
                .ledger
                .iter()
                .filter(|entry| entry.currency == line.currency && entry.kind == kind)
                .map(|entry| entry.amount_minor)
                .sum()
        };
        assert_eq!(sum(wire::LedgerKind::Payment), card + direct);
        assert_eq!(sum(wire::LedgerKind::Refund), refunded);
        assert_eq!(sum(wire::LedgerKind::Payout), paid_out);
    }
    let eur = report
        .lines
        .iter()
        .find(|line| line.currency.code() == "EUR")
        .ok_or_else(|| anyhow::anyhow!("EUR"))?;
    assert_eq!(eur.owed, 1250 + 99_999_999 - 33_333_333 - 50_000_000);
    assert!(
        report
            .ledger
            .windows(2)
            .all(|pair| pair[0].seq > pair[1].seq),
        "newest first, each entry numbered once"
    );

    let operator = relay::admin::send(
        world.relay.data_dir(),
        &relay::admin::AdminCommand::PayoutsReport,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("the admin socket answers"))?;
    assert!(operator.ok);
    let lines: Vec<wire::PayoutLine> = serde_json::from_value(operator.data[0]["lines"].clone())?;
    assert_eq!(lines, report.lines, "the operator sees the same sums");
    assert!(operator.message.contains("bigfirm"), "{}", operator.message);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn payouts_are_the_owners_alone() -> anyhow::Result<()> {
    let world = world("solo").await?;
    let details = wire::PayoutDetails {
        account_holder: "Solo Firm Ltd".to_owned(),
        account: "DE89 3704 0044 0532 0130 00".to_owned(),
        bank: "COBADEFFXXX".to_owned(),
        notes: String::new(),
    };
    let saved: wire::PayoutDetails = world
        .owner
        .put("/api/org/payouts/details", &details)
        .await?
        .ok()?;
    assert_eq!(saved, details);
    assert_eq!(world.report().await?.details, details);
    assert!(world.report().await?.card_payments);
    assert_eq!(world.anyone.get("/api/org/payouts").await?.status, 401);
    let stranger =
        NativeClient::verified_owner(&world.relay.url, world.relay.data_dir(), "nosy").await?;
    let theirs: wire::PayoutReport = stranger.get("/api/org/payouts").await?.ok()?;
    assert_eq!(theirs.details, wire::PayoutDetails::default(), "tenancy");
    let too_long = wire::PayoutDetails {
        account: "1".repeat(65),
        ..details
    };
    assert_eq!(
        world
            .owner
            .put("/api/org/payouts/details", &too_long)
            .await?
            .status,
        422
    );
    Ok(())
}
