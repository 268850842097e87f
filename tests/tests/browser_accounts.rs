//! Accounts in real headless Chromium: sign-up makes keys in the browser and lands on a pending
//! organisation; the operator verifies it through the admin socket; after a reload the private
//! key must be unlocked with the password; a wrong password is refused in words, the right one
//! logs in from another, independent browser.

use anyhow::Context as _;
use relay::admin::{AdminCommand, send};
use tests::{Browser, Session, TestRelay};

const PASSWORD: &str = "correct horse battery staple";

async fn sign_up(
    page: &Session,
    relay: &TestRelay,
    email: &str,
    handle: &str,
) -> anyhow::Result<()> {
    page.goto(&format!("{}/signup", relay.url)).await?;
    page.fill("input[name=email]", email).await?;
    page.fill("input[name=name]", "Ada Lovelace").await?;
    page.fill("input[name=organisation]", "Lovelace & Partners")
        .await?;
    page.fill("input[name=handle]", handle).await?;
    page.fill("input[name=password]", PASSWORD).await?;
    page.fill("input[name=confirmation]", PASSWORD).await?;
    page.click("button[type=submit]").await?;
    page.wait_for_text("[data-testid=org-status]", "Waiting for verification")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_is_pending_until_the_operator_verifies_and_a_reload_asks_to_unlock()
-> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;
    sign_up(&page, &relay, "ada@example.com", "lovelace").await?;
    let fingerprint = page.text("[data-testid=fingerprint]").await?;
    assert_eq!(
        fingerprint.split(' ').count(),
        8,
        "8 groups of 4 hex digits: {fingerprint}"
    );

    let answer = send(
        relay.data_dir(),
        &AdminCommand::OrgVerify {
            handle: "lovelace".to_owned(),
        },
    )
    .await?
    .expect("the running relay answers on its admin socket");
    assert!(answer.ok, "{}", answer.message);

    page.goto(&format!("{}/app", relay.url)).await?;
    page.wait_for_text("[data-testid=org-status]", "Verified by the operator")
        .await?;
    page.fill("input[name=unlock-password]", "not the password")
        .await?;
    page.click("[data-testid=unlock] button[type=submit]")
        .await?;
    page.wait_for_text("[data-testid=unlock-error]", "wrong password")
        .await?;
    page.find("input[name=unlock-password]")
        .await?
        .clear()
        .await?;
    page.fill("input[name=unlock-password]", PASSWORD).await?;
    page.click("[data-testid=unlock] button[type=submit]")
        .await?;
    page.wait_until_gone("[data-testid=unlock]").await?;

    let errors = page.console_errors().await?;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_refused_in_words_and_the_right_one_logs_in_elsewhere()
-> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let first = browser.session().await?;
    sign_up(&first, &relay, "grace@example.com", "hopper").await?;

    let second = browser.session().await?;
    second.goto(&format!("{}/login", relay.url)).await?;
    second
        .fill("input[name=email]", "grace@example.com")
        .await?;
    second
        .fill("input[name=password]", "a wrong password!")
        .await?;
    second.click("button[type=submit]").await?;
    second
        .wait_for_text(
            "[data-testid=form-error]",
            "wrong e-mail address or password",
        )
        .await?;

    second.find("input[name=password]").await?.clear().await?;
    second.fill("input[name=password]", PASSWORD).await?;
    second.click("button[type=submit]").await?;
    second
        .wait_for_text("main h1", "Welcome, Ada Lovelace")
        .await?;
    second.wait_until_gone("[data-testid=unlock]").await?;

    // Log out everywhere from the second browser ends the first browser's session too.
    second.click("button.secondary").await?;
    second.wait_for_text("main h1", "Log in").await?;
    first.goto(&format!("{}/app", relay.url)).await?;
    first
        .wait_for_text("main h1", "You are not logged in")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_eleventh_wrong_password_meets_a_clear_block() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;
    page.goto(&format!("{}/login", relay.url)).await?;
    page.fill("input[name=email]", "mallory@example.com")
        .await?;
    // Every answer counts against the network, a wait the account asks for too: whatever the
    // machine's speed, the eleventh meets the block.
    for attempt in 1..=11 {
        page.find("input[name=password]").await?.clear().await?;
        page.fill("input[name=password]", &format!("wrong password {attempt}"))
            .await?;
        page.click("button[type=submit]").await?;
        // A new answer is a new element: the previous one was marked as seen.
        let answer = page
            .text("[data-testid=form-error]:not([data-seen])")
            .await
            .with_context(|| format!("attempt {attempt} got no answer"))?;
        page.eval(
            "document.querySelector('[data-testid=form-error]').dataset.seen = '1'; return null;",
        )
        .await?;
        if attempt <= 10 {
            assert!(
                !answer.contains("network"),
                "attempt {attempt} is not blocked yet: {answer}"
            );
        } else {
            assert!(
                answer.contains("too many failed attempts from your network")
                    && answer.contains("blocked for about 24"),
                "the eleventh attempt is blocked in plain words: {answer}"
            );
        }
    }
    Ok(())
}

/// The operator verifies an organisation through the running relay's admin socket (only
/// verified organisations invite).
async fn operator_verifies(relay: &TestRelay, handle: &str) -> anyhow::Result<()> {
    let answer = send(
        relay.data_dir(),
        &AdminCommand::OrgVerify {
            handle: handle.to_owned(),
        },
    )
    .await?
    .context("the running relay answers on its admin socket")?;
    anyhow::ensure!(answer.ok, "{}", answer.message);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invited_member_joins_and_is_denied_the_admin_page() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let owner = browser.session().await?;
    sign_up(&owner, &relay, "owner@example.com", "owners-firm").await?;
    operator_verifies(&relay, "owners-firm").await?;
    owner.click("a[href='/app/members']").await?;
    owner
        .fill("input[name=invite-email]", "member@example.com")
        .await?;
    owner.click("form.inline-form button[type=submit]").await?;
    let link = owner
        .wait_for_text("[data-testid=invite-link]", "/join#")
        .await?;

    let member = browser.session().await?;
    member.goto(&link).await?;
    member
        .wait_for_text("[data-testid=join-details]", "member@example.com")
        .await?;
    let address = member.eval("return location.href;").await?;
    assert!(
        !address.as_str().unwrap_or_default().contains('#'),
        "the token left the address bar: {address}"
    );
    member.fill("input[name=name]", "Mia Member").await?;
    member.fill("input[name=password]", PASSWORD).await?;
    member.fill("input[name=confirmation]", PASSWORD).await?;
    member.click("button[type=submit]").await?;
    member
        .wait_for_text("main h1", "Welcome, Mia Member")
        .await?;
    assert!(
        member
            .client
            .find(fantoccini::Locator::Css("a[href='/app/members']"))
            .await
            .is_err(),
        "no admin links for a member"
    );

    member.goto(&format!("{}/app/members", relay.url)).await?;
    member
        .wait_for_text("[data-testid=members-error]", "does not allow this")
        .await?;

    owner.goto(&format!("{}/app/members", relay.url)).await?;
    owner
        .wait_for_text("[data-testid=members-table]", "member@example.com")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_password_logs_in_and_the_old_one_does_not() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;
    sign_up(&page, &relay, "rotate@example.com", "rotators").await?;
    page.click("details.settings summary").await?;
    page.fill("input[name=current-password]", PASSWORD).await?;
    page.fill("input[name=new-password]", "an entirely new passphrase")
        .await?;
    page.fill(
        "input[name=new-password-again]",
        "an entirely new passphrase",
    )
    .await?;
    page.click("[data-testid=change-password] button[type=submit]")
        .await?;
    page.wait_for_text("[data-testid=password-changed]", "Password changed")
        .await?;

    let other = browser.session().await?;
    other.goto(&format!("{}/login", relay.url)).await?;
    other
        .fill("input[name=email]", "rotate@example.com")
        .await?;
    other.fill("input[name=password]", PASSWORD).await?;
    other.click("button[type=submit]").await?;
    other
        .wait_for_text(
            "[data-testid=form-error]",
            "wrong e-mail address or password",
        )
        .await?;
    other.find("input[name=password]").await?.clear().await?;
    other
        .fill("input[name=password]", "an entirely new passphrase")
        .await?;
    other.click("button[type=submit]").await?;
    other
        .wait_for_text("main h1", "Welcome, Ada Lovelace")
        .await?;
    other.wait_until_gone("[data-testid=unlock]").await?;
    Ok(())
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for c in text.trim().chars() {
        let value = ALPHABET.find(c).expect("base32 digit") as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

fn unix_now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(elapsed.as_secs()).expect("fits")
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_is_set_up_with_a_qr_code_and_then_asked_for_at_log_in() -> anyhow::Result<()> {
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let page = browser.session().await?;
    sign_up(&page, &relay, "otp@example.com", "otp-firm").await?;
    page.click("[data-testid=mfa] button").await?;
    let secret = base32_decode(&page.text("[data-testid=mfa-secret]").await?);
    let qr = page
        .find("img.qr")
        .await?
        .attr("src")
        .await?
        .unwrap_or_default();
    assert!(
        qr.starts_with("data:image/svg+xml;base64,"),
        "the QR code is drawn in the page"
    );

    // Stay clear of a step boundary, confirm with the previous step's code (one step of drift
    // is accepted), so that the current step is still unused for the log-in below.
    while unix_now() % 30 > 22 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    page.fill(
        "input[name=mfa-code]",
        &relay::totp::code_at(&secret, unix_now() - 30),
    )
    .await?;
    page.click("[data-testid=mfa] form button[type=submit]")
        .await?;
    page.wait_for_text("[data-testid=recovery-codes]", "-")
        .await?;
    page.wait_for_text("[data-testid=mfa-on]", "On").await?;

    let other = browser.session().await?;
    other.goto(&format!("{}/login", relay.url)).await?;
    other.fill("input[name=email]", "otp@example.com").await?;
    other.fill("input[name=password]", PASSWORD).await?;
    other.click("button[type=submit]").await?;
    other.find("[data-testid=code-form]").await?;
    other.fill("input[name=code]", "000000").await?;
    other
        .click("[data-testid=code-form] button[type=submit]")
        .await?;
    other
        .wait_for_text("[data-testid=form-error]", "wrong or already used code")
        .await?;
    other.find("input[name=code]").await?.clear().await?;
    other
        .fill(
            "input[name=code]",
            &relay::totp::code_at(&secret, unix_now()),
        )
        .await?;
    other
        .click("[data-testid=code-form] button[type=submit]")
        .await?;
    other
        .wait_for_text("main h1", "Welcome, Ada Lovelace")
        .await?;
    other.wait_until_gone("[data-testid=unlock]").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_smtp_configured_sign_up_is_confirmed_by_mail_and_invitations_arrive_by_mail()
-> anyhow::Result<()> {
    let sink = tests::SmtpSink::start().await?;
    let sink_url = sink.url();
    let relay = TestRelay::start_with(|config| {
        config.smtp.url = relay::config::Secret::new(sink_url);
        config.smtp.from = "Sealpost <no-reply@sealpost.test>".to_owned();
    })
    .await?;
    let browser = Browser::start().await?;
    let owner = browser.session().await?;
    owner.goto(&format!("{}/signup", relay.url)).await?;
    owner.fill("input[name=email]", "boss@example.com").await?;
    owner.fill("input[name=name]", "Ada Lovelace").await?;
    owner
        .fill("input[name=organisation]", "Lovelace & Partners")
        .await?;
    owner.fill("input[name=handle]", "mailing-firm").await?;
    owner.fill("input[name=password]", PASSWORD).await?;
    owner.fill("input[name=confirmation]", PASSWORD).await?;
    owner.click("button[type=submit]").await?;
    // The page says the same for any address; nothing exists until the link is opened.
    owner
        .wait_for_text(
            "[data-testid=signup-pending]",
            "We wrote to boss@example.com",
        )
        .await?;
    let confirmation = sink.message(1).await?;
    assert!(
        confirmation.contains("Subject: Confirm your address to create your Sealpost account"),
        "{confirmation}"
    );
    let token = tests::smtp::mailed_tokens("boss@example.com", "confirm")
        .into_iter()
        .next()
        .context("the mail carries the confirmation link")?;
    let confirm = browser.session().await?;
    confirm
        .goto(&format!("{}/confirm#{token}", relay.url))
        .await?;
    confirm
        .wait_for_text("[data-testid=confirmed]", "boss@example.com")
        .await?;
    // The link works once.
    let again = browser.session().await?;
    again
        .goto(&format!("{}/confirm#{token}", relay.url))
        .await?;
    again
        .wait_for_text("[data-testid=confirm-error]", "not valid")
        .await?;
    // Only a verified organisation may have the relay mail anyone.
    operator_verifies(&relay, "mailing-firm").await?;
    tests::flows::log_in(&owner, &relay.url, "boss@example.com").await?;
    owner.click("a[href='/app/members']").await?;
    owner
        .fill("input[name=invite-email]", "newbie@example.com")
        .await?;
    owner.click("form.inline-form button[type=submit]").await?;
    // A mailed invitation's link goes only to the address.
    owner
        .wait_for_text(
            "[data-testid=invite-note]",
            "e-mailed to newbie@example.com",
        )
        .await?;
    let links = owner
        .eval("return document.querySelectorAll('[data-testid=invite-link]').length;")
        .await?;
    anyhow::ensure!(links == 0, "the inviter is not shown the mailed link");

    let mail = sink.message(2).await?;
    assert!(mail.contains("To: newbie@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: An invitation to an organisation on Sealpost"),
        "no member-typed name in the subject: {mail}"
    );
    // The body is quoted-printable: join its soft line breaks.
    let body = mail.replace("=\n", "").replace("=3D", "=");
    assert!(
        body.contains("typed by that organisation's members"),
        "names are marked as typed by members: {body}"
    );
    let link = body
        .split_whitespace()
        .find(|word| word.starts_with(&format!("{}/join#", relay.url)))
        .unwrap_or_else(|| panic!("the mail carries the invite link:\n{body}"));
    let fragment = link
        .split_once('#')
        .map(|(_, token)| token)
        .unwrap_or_default();

    let newbie = browser.session().await?;
    newbie
        .goto(&format!("{}/join#{fragment}", relay.url))
        .await?;
    newbie
        .wait_for_text("[data-testid=join-details]", "newbie@example.com")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_makes_an_api_key_a_script_uses_it_and_revoking_it_stops_it() -> anyhow::Result<()>
{
    let relay = TestRelay::start().await?;
    let browser = Browser::start().await?;
    let owner = browser.session().await?;
    sign_up(&owner, &relay, "owner@example.com", "keys-firm").await?;
    operator_verifies(&relay, "keys-firm").await?;
    owner.reload().await?;
    owner.click("a[href='/app/api-keys']").await?;
    owner.wait_for_text("main h1", "API keys").await?;
    owner
        .fill("input[name=api-key-name]", "Practice system")
        .await?;
    owner
        .click("input[name=api-key-scope][value='sends:write']")
        .await?;
    owner
        .click("input[name=api-key-scope][value='sends:read']")
        .await?;
    owner.click("form button[type=submit]").await?;
    let shown = owner
        .wait_for_text("[data-testid=api-key-secret]", "sp_")
        .await?;
    let secret = shown
        .split_whitespace()
        .find(|word| word.starts_with("sp_"))
        .context("the secret is shown")?
        .to_owned();
    let table = owner
        .wait_for_text("[data-testid=api-keys-table]", "Practice system")
        .await?;
    assert!(table.contains("sends:write sends:read"), "{table}");
    assert!(
        !table.contains(&secret),
        "the listing shows the prefix, never the secret"
    );

    let script = reqwest::Client::new();
    let sends = |secret: String| {
        let script = script.clone();
        let url = format!("{}/api/sends", relay.url);
        async move {
            script
                .get(url)
                .bearer_auth(secret)
                .send()
                .await
                .map(|answer| answer.status())
        }
    };
    assert_eq!(sends(secret.clone()).await?, reqwest::StatusCode::OK);

    // The reference the key page points to lists every operation from the relay's document.
    owner.click("a[href='/api-reference']").await?;
    let operations = owner
        .wait_for_text("[data-testid=api-operations]", "POST /api/sends")
        .await?;
    assert!(
        operations.contains("session or api_key") && operations.contains("CreateSendRequest"),
        "{operations}"
    );
    assert!(
        operations.contains("POST /api/org/webhooks"),
        "{operations}"
    );
    owner.goto(&format!("{}/app/api-keys", relay.url)).await?;
    owner
        .wait_for_text("[data-testid=api-keys-table]", "Practice system")
        .await?;

    owner
        .click("button[aria-label='Revoke Practice system']")
        .await?;
    owner
        .wait_for_text("[data-testid=api-keys-table]", "revoked")
        .await?;
    assert_eq!(
        sends(secret).await?,
        reqwest::StatusCode::UNAUTHORIZED,
        "a revoked key does nothing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_registers_a_webhook_and_an_opened_link_reaches_it_signed() -> anyhow::Result<()> {
    let relay = TestRelay::start_with(|config| {
        config.webhooks.allow_private_addresses = true;
        config.webhooks.allow_http = true;
    })
    .await?;
    let receiver = tests::webhooks::Receiver::start().await?;
    let url = receiver.url.clone();
    let browser = Browser::start().await?;
    let owner = browser.session().await?;
    tests::verified_sender(&owner, &relay.url, relay.data_dir(), "hooks").await?;
    owner.goto(&format!("{}/app/webhooks", relay.url)).await?;
    owner.wait_for_text("main h1", "Webhooks").await?;
    owner.fill("input[name=webhook-url]", &url).await?;
    owner
        .click("input[name=webhook-event][value='link.opened']")
        .await?;
    owner.click("form button[type=submit]").await?;
    let shown = owner
        .wait_for_text("[data-testid=webhook-secret]", "whsec_")
        .await?;
    let secret = shown
        .split_whitespace()
        .find(|word| word.starts_with("whsec_"))
        .context("the secret is shown")?
        .to_owned();
    owner
        .wait_for_text("[data-testid=webhooks-table]", "link.opened")
        .await?;

    // A script of the firm sends a link, a recipient opens it.
    let sender = tests::native::NativeClient::log_in(
        &relay.url,
        "hooks@example.com",
        tests::PASSWORD,
        tests::native::KeyPair::Alice,
    )
    .await?
    .map_err(|answer| anyhow::anyhow!("log-in refused: {answer:?}"))?;
    let link = sender.send_files(&[b"a chart".to_vec()], 1, None).await?;
    let recipient = tests::native::NativeClient::anonymous(&relay.url);
    recipient
        .open_link(&link, &link.otp)
        .await?
        .map_err(|answer| anyhow::anyhow!("the link did not open: {answer:?}"))?;

    // The relay's worker calls the endpoint within a few seconds, signed with the secret.
    let payloads = receiver.payloads(1, &secret).await?;
    assert_eq!(payloads[0].event, shared::wire::WebhookEvent::LinkOpened);
    assert_eq!(payloads[0].object, link.id);

    // The page shows the delivery.
    owner
        .click(&format!("button[aria-label='Deliveries of {url}']"))
        .await?;
    owner
        .wait_for_text("[data-testid=deliveries-table]", "delivered")
        .await?;
    Ok(())
}
