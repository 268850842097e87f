//! Security review (issue 13), scripted: each test is a review finding's exploit, run against
//! a real relay, and what the relay must answer instead.

use shared::wire::{self, Role};
use tests::native::{KeyPair, NativeClient, account_keys};
use tests::{SmtpSink, TestRelay};

async fn mailing_relay() -> anyhow::Result<(TestRelay, SmtpSink)> {
    let sink = SmtpSink::start().await?;
    let url = sink.url();
    let relay = TestRelay::start_with(|config| {
        config.smtp.url = relay::config::Secret::new(url);
        config.smtp.from = "Sealpost <no-reply@sealpost.test>".to_owned();
    })
    .await?;
    Ok((relay, sink))
}

fn mails_to(sink: &SmtpSink, to: &str) -> Vec<String> {
    let header = format!("To: {to}\n");
    sink.messages()
        .into_iter()
        .filter(|message| message.contains(&header))
        .map(|message| message.replace("=\n", "").replace("=3D", "="))
        .collect()
}

/// Anyone could learn whether an address has an account: sign-up answered "an account with
/// this e-mail address exists". With mail, the answer is the same for a taken and a free
/// address, the holder of a taken one is told instead, and nothing exists for a free one until
/// its link is opened.
#[tokio::test(flavor = "multi_thread")]
async fn sign_up_and_invitations_do_not_tell_who_has_an_account() -> anyhow::Result<()> {
    let (relay, sink) = mailing_relay().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), "holder").await?;
    let attacker = NativeClient::anonymous(&relay.url);
    let keys = account_keys(tests::PASSWORD, KeyPair::Bob)?;
    let probe = |email: &str, handle: &str| {
        serde_json::json!({
            "email": email,
            "name": "Probe",
            "organisation": { "name": "Probe", "handle": handle },
            "keys": keys,
        })
    };
    let taken = attacker
        .post(
            "/api/auth/signup",
            Some(&probe("holder@example.com", "probe-one")),
        )
        .await?;
    let free = attacker
        .post(
            "/api/auth/signup",
            Some(&probe("nobody@example.com", "probe-two")),
        )
        .await?;
    assert_eq!(
        (taken.status, free.status),
        (202, 202),
        "{taken:?} {free:?}"
    );
    let mut taken_body = taken.body.clone();
    taken_body["email"] = free.body["email"].clone();
    assert_eq!(
        taken_body, free.body,
        "the answers differ only in the address echoed"
    );

    let holder_mail = mails_to(&sink, "holder@example.com");
    let notice = holder_mail
        .iter()
        .find(|mail| mail.contains("Someone tried to create a Sealpost account"))
        .unwrap_or_else(|| panic!("the holder is told: {holder_mail:?}"));
    assert!(!notice.contains("/confirm#"), "a notice, no link: {notice}");
    let confirmation = mails_to(&sink, "nobody@example.com");
    assert_eq!(confirmation.len(), 1);
    assert!(confirmation[0].contains("Subject: Confirm your address"));

    // Nothing exists for the free address until its link is opened: the same sign-up again is
    // answered the same, and the handle is still free.
    let again = attacker
        .post(
            "/api/auth/signup",
            Some(&probe("nobody@example.com", "probe-two")),
        )
        .await?;
    assert_eq!(again.status, 202, "{again:?}");
    let refused = NativeClient::log_in(
        &relay.url,
        "nobody@example.com",
        tests::PASSWORD,
        KeyPair::Bob,
    )
    .await?
    .expect_err("no account before confirmation");
    assert_eq!(refused.code(), "wrong_credentials");

    // Nobody floods a mailbox through the form: past three mails a day it answers as always
    // and sends nothing.
    for _ in 0..3 {
        let answer = attacker
            .post(
                "/api/auth/signup",
                Some(&probe("nobody@example.com", "probe-two")),
            )
            .await?;
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    assert_eq!(mails_to(&sink, "nobody@example.com").len(), 3);

    // A handle is public (its portal is `/p/<handle>`): a taken one is refused at once.
    let handle = attacker
        .post(
            "/api/auth/signup",
            Some(&probe("someone@example.com", "holder")),
        )
        .await?;
    assert_eq!(handle.status, 409, "{handle:?}");

    // The link works once and the account then logs in with the password chosen.
    let token = tests::smtp::mailed_tokens("nobody@example.com", "confirm")
        .into_iter()
        .next()
        .expect("a confirmation link");
    let confirm = wire::SignupConfirmRequest {
        token: token.into(),
    };
    let confirmed = attacker
        .post("/api/auth/signup/confirm", Some(&confirm))
        .await?;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(confirmed.body["email"], "nobody@example.com");
    let used = attacker
        .post("/api/auth/signup/confirm", Some(&confirm))
        .await?;
    assert_eq!(used.status, 409, "{used:?}");
    NativeClient::log_in(
        &relay.url,
        "nobody@example.com",
        tests::PASSWORD,
        KeyPair::Bob,
    )
    .await?
    .map_err(|answer| anyhow::anyhow!("the confirmed account logs in: {answer:?}"))?;
    let forged = attacker
        .post(
            "/api/auth/signup/confirm",
            Some(&wire::SignupConfirmRequest {
                token: "AAAA".into(),
            }),
        )
        .await?;
    assert_eq!(forged.status, 409, "{forged:?}");

    // An organisation's admin learns nothing either: inviting an address that has an account
    // is answered as any invitation, and its holder is told instead of sent a link.
    let invite = |email: &str| wire::CreateInviteRequest {
        email: email.to_owned(),
        role: Role::Member,
    };
    let to_taken: wire::InviteView = owner
        .post("/api/org/invites", Some(&invite("nobody@example.com")))
        .await?
        .ok()?;
    let to_free: wire::InviteView = owner
        .post("/api/org/invites", Some(&invite("fresh@example.com")))
        .await?
        .ok()?;
    assert_eq!(
        (to_taken.token.is_none(), to_taken.emailed),
        (to_free.token.is_none(), to_free.emailed)
    );
    assert_eq!((to_free.token, to_free.emailed), (None, true));
    let told = mails_to(&sink, "nobody@example.com");
    let told = told
        .iter()
        .find(|mail| mail.contains("already has a Sealpost account"))
        .unwrap_or_else(|| panic!("the holder is told of the invitation: {told:?}"));
    assert!(
        !told.contains("/join#"),
        "no link for a taken address: {told}"
    );
    assert!(
        mails_to(&sink, "fresh@example.com")[0].contains("/join#"),
        "a free address gets its link"
    );
    Ok(())
}

/// What hyper answered by itself (a request it cannot parse) had an empty body; every answer,
/// these too, is the JSON error shape with words that fit.
#[tokio::test(flavor = "multi_thread")]
async fn requests_hyper_cannot_parse_get_the_json_error_shape() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let relay = TestRelay::start().await?;
    let long_uri = format!("/api/{}", "a".repeat(70_000));
    let many_headers: String = (0..200).map(|n| format!("x-h{n}: v\r\n")).collect();
    let cases = [
        (
            "GET /api/health HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n".to_owned(),
            400,
            "bad_request",
        ),
        ("GARBAGE\r\n\r\n".to_owned(), 400, "bad_request"),
        (
            format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\n\r\n"),
            414,
            "uri_too_long",
        ),
        (
            format!("GET /api/health HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            431,
            "headers_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let mut stream = tokio::net::TcpStream::connect(relay.address).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut answer),
        )
        .await??;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("an HTTP answer: {answer}"));
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let error: wire::ErrorResponse =
            serde_json::from_str(body).unwrap_or_else(|problem| panic!("{problem}: {body:?}"));
        assert_eq!(error.code, code, "{answer}");
        assert!(!error.message.is_empty());
    }
    // A request the router answers is untouched, on the same kind of connection.
    let answer = reqwest::get(format!("{}/api/health", relay.url)).await?;
    assert_eq!(answer.status(), 200);
    Ok(())
}
