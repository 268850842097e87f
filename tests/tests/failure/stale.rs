//! No stale write undoes a security action. Each test holds a request back after its records
//! were loaded (its body trickles, as a slow or hostile client's would), takes the security
//! action through another session or the operator, then lets the held request finish: the
//! security action always wins. Parallel guesses at a second factor are each counted, and one
//! code opens one session.

use axum::http::Method;
use relay::admin::{AdminCommand, send};
use shared::wire::{self, OrgStatus, Role};
use tests::native::{Answer, KeyPair, NativeClient};
use tests::{PASSWORD, TestRelay};

use crate::{Held, json};

/// A fresh relay with a verified organisation `handle`; its owner.
async fn firm(handle: &str) -> anyhow::Result<(TestRelay, NativeClient)> {
    let relay = TestRelay::start().await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), handle).await?;
    Ok((relay, owner))
}

async fn log_in(relay: &TestRelay, email: &str, password: &str) -> anyhow::Result<NativeClient> {
    NativeClient::log_in(&relay.url, email, password, KeyPair::Alice)
        .await?
        .map_err(|answer| anyhow::anyhow!("log-in refused: {answer:?}"))
}

async fn can_log_in(relay: &TestRelay, email: &str, password: &str) -> anyhow::Result<bool> {
    Ok(
        NativeClient::log_in(&relay.url, email, password, KeyPair::Alice)
            .await?
            .is_ok(),
    )
}

/// A held password change of `client`'s account (`email`) from PASSWORD to `new`.
async fn held_password_change(
    relay: &TestRelay,
    client: &NativeClient,
    email: &str,
    new: &str,
) -> anyhow::Result<Held> {
    let body = client.password_change(email, PASSWORD, new).await?;
    let mut held = Held::send(
        relay,
        Method::POST,
        "/api/auth/password",
        &client.session_headers(),
        json(&body),
    );
    held.loaded().await;
    Ok(held)
}

async fn status_of(relay: &TestRelay, handle: &str) -> anyhow::Result<Option<OrgStatus>> {
    let answer = send(relay.data_dir(), &AdminCommand::OrgsList { status: None })
        .await?
        .ok_or_else(|| anyhow::anyhow!("no admin socket"))?;
    let orgs = answer.data.as_array().cloned().unwrap_or_default();
    Ok(orgs
        .iter()
        .find(|org| org["handle"] == handle)
        .and_then(|org| serde_json::from_value(org["status"].clone()).ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_password_change_loses_to_a_change_made_meanwhile() -> anyhow::Result<()> {
    let (relay, owner) = firm("held-password").await?;
    let email = "held-password@example.com";
    // A stolen session starts changing the password to the thief's own…
    let thief = log_in(&relay, email, PASSWORD).await?;
    let held = held_password_change(&relay, &thief, email, "the thief's own password").await?;
    // …and the owner changes it first, which ends every other session.
    let change = owner
        .password_change(email, PASSWORD, "the owner's new password")
        .await?;
    let changed = owner.post("/api/auth/password", Some(&change)).await?;
    assert_eq!(changed.status, 200, "{changed:?}");
    let (status, body) = held.finish().await;
    assert_eq!(status, 401, "the thief's change comes too late: {body}");
    assert!(can_log_in(&relay, email, "the owner's new password").await?);
    assert!(!can_log_in(&relay, email, "the thief's own password").await?);
    assert!(!can_log_in(&relay, email, PASSWORD).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_mfa_confirmation_cannot_bring_an_old_password_back() -> anyhow::Result<()> {
    let (relay, owner) = firm("held-mfa").await?;
    let email = "held-mfa@example.com";
    let setup: wire::MfaSetupResponse =
        owner.post::<()>("/api/auth/mfa/setup", None).await?.ok()?;
    let code = relay::totp::code_at(
        &base32_decode(setup.secret.dangerously_expose()),
        unix_now(),
    );
    let mut held = Held::send(
        &relay,
        Method::POST,
        "/api/auth/mfa/confirm",
        &owner.session_headers(),
        json(&wire::MfaConfirmRequest { code: code.into() }),
    );
    held.loaded().await;
    let elsewhere = log_in(&relay, email, PASSWORD).await?;
    let change = elsewhere
        .password_change(email, PASSWORD, "changed while confirming")
        .await?;
    assert_eq!(
        elsewhere
            .post("/api/auth/password", Some(&change))
            .await?
            .status,
        200
    );
    let (status, body) = held.finish().await;
    assert_eq!(status, 401, "{body}");
    assert!(
        can_log_in(&relay, email, "changed while confirming").await?,
        "the new password stands, and no second factor appeared with the old record"
    );
    assert!(!can_log_in(&relay, email, PASSWORD).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_policy_or_portal_change_cannot_lift_a_suspension() -> anyhow::Result<()> {
    let (relay, owner) = firm("held-policy").await?;
    let mut policy: wire::OrgPolicy = owner.get("/api/org/policy").await?.ok()?;
    policy.min_password_length += 2;
    let mut held_policy = Held::send(
        &relay,
        Method::PUT,
        "/api/org/policy",
        &owner.session_headers(),
        json(&policy),
    );
    held_policy.loaded().await;
    let mut held_portal = Held::send(
        &relay,
        Method::PUT,
        "/api/org/portal",
        &owner.session_headers(),
        json(&wire::PortalSettings {
            enabled: true,
            intake: Vec::new(),
        }),
    );
    held_portal.loaded().await;
    let suspended = send(
        relay.data_dir(),
        &AdminCommand::OrgSuspend {
            handle: "held-policy".to_owned(),
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no admin socket"))?;
    assert!(suspended.ok, "{}", suspended.message);
    let (status, body) = held_policy.finish().await;
    assert!(status < 500, "{status} {body}");
    let (status, body) = held_portal.finish().await;
    assert!(status < 500, "{status} {body}");
    assert_eq!(
        status_of(&relay, "held-policy").await?,
        Some(OrgStatus::Suspended),
        "the operator's suspension stands"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_stays_removed_and_a_demoted_admin_stays_a_member() -> anyhow::Result<()> {
    let (relay, owner) = firm("held-members").await?;
    let member = owner.invite("leaver", Role::Member, KeyPair::Alice).await?;
    let admin = owner.invite("demoted", Role::Admin, KeyPair::Alice).await?;
    let held_member =
        held_password_change(&relay, &member, "leaver@example.com", "leaver's new").await?;
    let held_admin =
        held_password_change(&relay, &admin, "demoted@example.com", "demoted's new").await?;
    // An admin's invitation on its way back in, held while they are demoted.
    let mut held_invite = Held::send(
        &relay,
        Method::POST,
        "/api/org/invites",
        &admin.session_headers(),
        json(&wire::CreateInviteRequest {
            email: "way-back-in@example.com".to_owned(),
            role: Role::Admin,
        }),
    );
    held_invite.loaded().await;

    let removed = tests::native::send(owner.raw(
        reqwest::Method::DELETE,
        &format!("/api/org/members/{}", member.id()?),
    ))
    .await?;
    assert_eq!(removed.status, 204, "{removed:?}");
    let demoted = owner
        .post(
            &format!("/api/org/members/{}/role", admin.id()?),
            Some(&wire::ChangeRoleRequest { role: Role::Member }),
        )
        .await?;
    assert_eq!(demoted.status, 200, "{demoted:?}");

    let (status, body) = held_member.finish().await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = held_admin.finish().await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = held_invite.finish().await;
    assert_eq!(status, 401, "{body}");
    let invites: Vec<wire::InviteView> = owner.get("/api/org/invites").await?.ok()?;
    assert!(invites.is_empty(), "no invitation was made: {invites:?}");

    let members: Vec<wire::MemberView> = owner.get("/api/org/members").await?.ok()?;
    assert!(
        !members
            .iter()
            .any(|view| view.email == "leaver@example.com"),
        "the removal stands: {members:?}"
    );
    let demoted = members
        .iter()
        .find(|view| view.email == "demoted@example.com")
        .ok_or_else(|| anyhow::anyhow!("the demoted member is listed"))?;
    assert_eq!(demoted.role, Role::Member, "the demotion stands");
    assert!(!can_log_in(&relay, "leaver@example.com", PASSWORD).await?);
    assert!(!can_log_in(&relay, "leaver@example.com", "leaver's new").await?);
    assert!(can_log_in(&relay, "demoted@example.com", PASSWORD).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_everywhere_ends_a_session_whose_request_is_in_flight() -> anyhow::Result<()> {
    let (relay, _owner) = firm("held-logout").await?;
    let email = "held-logout@example.com";
    let stolen = log_in(&relay, email, PASSWORD).await?;
    let held = held_password_change(&relay, &stolen, email, "the thief's password").await?;
    let mine = log_in(&relay, email, PASSWORD).await?;
    let out = mine.post::<()>("/api/auth/logout-all", None).await?;
    assert_eq!(out.status, 204, "{out:?}");
    let (status, body) = held.finish().await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        stolen.get("/api/me").await?.status,
        401,
        "the session is over"
    );
    assert!(can_log_in(&relay, email, PASSWORD).await?);
    assert!(!can_log_in(&relay, email, "the thief's password").await?);
    Ok(())
}

/// A relay on a manual clock with an owner who has a second factor: the relay, the owner's
/// TOTP secret and the clock.
async fn with_second_factor(
    handle: &str,
) -> anyhow::Result<(TestRelay, Vec<u8>, relay::clock::ManualClock)> {
    let (clock, hand) = relay::Clock::manual(START);
    let relay = TestRelay::start_with_clock(|_| {}, clock).await?;
    let owner = NativeClient::verified_owner(&relay.url, relay.data_dir(), handle).await?;
    let setup: wire::MfaSetupResponse =
        owner.post::<()>("/api/auth/mfa/setup", None).await?.ok()?;
    let secret = base32_decode(setup.secret.dangerously_expose());
    let confirmed = owner
        .post(
            "/api/auth/mfa/confirm",
            Some(&wire::MfaConfirmRequest {
                code: relay::totp::code_at(&secret, START).into(),
            }),
        )
        .await?;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    hand.advance(60);
    Ok((relay, secret, hand))
}

/// The password step of a log-in with a second factor: its ticket.
async fn ticket(relay: &TestRelay, email: &str) -> anyhow::Result<String> {
    let client = NativeClient::anonymous(&relay.url);
    let auth_key = client.auth_key(email, PASSWORD).await?;
    let answer: wire::LoginResponse = client
        .post(
            "/api/auth/login",
            Some(&wire::LoginRequest {
                email: email.to_owned(),
                auth_key: auth_key.into(),
            }),
        )
        .await?
        .ok()?;
    answer
        .mfa_ticket
        .map(|ticket| ticket.dangerously_expose().to_owned())
        .ok_or_else(|| anyhow::anyhow!("a ticket for the second factor"))
}

async fn verify(relay: &TestRelay, ticket: &str, code: &str) -> anyhow::Result<Answer> {
    NativeClient::anonymous(&relay.url)
        .post(
            "/api/auth/mfa/verify",
            Some(&wire::MfaVerifyRequest {
                ticket: ticket.into(),
                code: code.into(),
            }),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_wrong_codes_on_one_ticket_spend_at_most_its_five_tries()
-> anyhow::Result<()> {
    let (relay, secret, hand) = with_second_factor("mfa-burst").await?;
    let ticket = ticket(&relay, "mfa-burst@example.com").await?;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..50 {
        let (url, ticket) = (relay.url.clone(), ticket.clone());
        guesses.spawn(async move {
            NativeClient::anonymous(&url)
                .post(
                    "/api/auth/mfa/verify",
                    Some(&wire::MfaVerifyRequest {
                        ticket: ticket.into(),
                        code: format!("{:06}", 100_000 + n).into(),
                    }),
                )
                .await
        });
    }
    let mut wrong = 0;
    while let Some(answer) = guesses.join_next().await {
        let answer = answer??;
        assert_ne!(answer.status, 200, "{answer:?}");
        if answer.code() == "wrong_code" {
            wrong += 1;
        }
    }
    assert!(
        (1..=5).contains(&wrong),
        "{wrong} guesses were checked; a ticket allows five"
    );
    let right = verify(&relay, &ticket, &relay::totp::code_at(&secret, hand.now())).await?;
    assert_ne!(right.status, 200, "the ticket is spent: {right:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_sent_on_two_tickets_at_once_opens_one_session() -> anyhow::Result<()> {
    let (relay, secret, hand) = with_second_factor("mfa-replay").await?;
    let email = "mfa-replay@example.com";
    let first = ticket(&relay, email).await?;
    let second = ticket(&relay, email).await?;
    let code = relay::totp::code_at(&secret, hand.now());
    let (a, b) = tokio::join!(
        verify(&relay, &first, &code),
        verify(&relay, &second, &code)
    );
    let statuses = [a?.status, b?.status];
    assert_eq!(
        statuses.iter().filter(|status| **status == 200).count(),
        1,
        "a code is accepted once: {statuses:?}"
    );
    Ok(())
}

const START: i64 = 1_800_000_000;

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for c in text.trim().chars() {
        let Some(value) = ALPHABET.find(c) else {
            continue;
        };
        buffer = (buffer << 5) | u32::try_from(value).unwrap_or(0);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

fn unix_now() -> i64 {
    tests::stripe::now()
}
