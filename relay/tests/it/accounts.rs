//! Accounts through the HTTP API with a real store and a manual clock: sign-up creates a
//! pending organisation and logs its owner in; prelogin does not reveal who has an account;
//! wrong addresses and wrong passwords get the same answer; sessions are HttpOnly, SameSite
//! cookies with idle and absolute expiry; writes need the CSRF token; log-out and "log out
//! everywhere" end sessions; the audit log records it all, per organisation; the operator's
//! verification changes what the organisation may do.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use relay::admin::{AdminCommand, execute};
use shared::crypto::{OsRng, Passphrase, derive_master_key};
use shared::wire::{self, OrgStatus, Role};
use tower::ServiceExt as _;

use super::support::*;

#[tokio::test]
async fn signup_creates_a_pending_organisation_and_logs_its_owner_in() {
    let relay = relay();
    let ada = account("Ada@Example.com ", "a long enough password");
    let login = relay.signup(&ada, "ada-law").await;
    assert_eq!(
        login.session.user.email, "ada@example.com",
        "addresses are normalised"
    );
    assert_eq!(login.session.user.role, Role::Owner);
    assert_eq!(login.session.organisation.status, OrgStatus::Pending);
    assert_eq!(
        login.session.keys.sealed_private_key,
        ada.keys.sealed_private_key
    );

    let me = relay.call(Method::GET, "/api/me", Some(&login), None).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        json(me).await["user"]["id"],
        serde_json::json!(login.session.user.id)
    );

    let anonymous = relay.call(Method::GET, "/api/me", None, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(anonymous).await["code"], "unauthenticated");
}

#[tokio::test]
async fn prelogin_reveals_nobody_and_login_errors_are_identical() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    relay.signup(&ada, "ada-law").await;

    let prelogin = |email: &'static str| {
        let relay = &relay;
        async move {
            let response = relay
                .call(
                    Method::POST,
                    "/api/auth/prelogin",
                    None,
                    Some(serde_json::json!({ "email": email })),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            serde_json::from_value::<wire::PreloginResponse>(json(response).await)
                .expect("prelogin")
        }
    };
    let known = prelogin("ada@example.com").await;
    assert_eq!(known.salt, ada.keys.salt);
    let ghost = prelogin("ghost@example.com").await;
    assert_eq!(
        ghost,
        prelogin("GHOST@example.com").await,
        "deterministic per address"
    );
    assert_ne!(ghost.salt, prelogin("other@example.com").await.salt);
    assert_eq!(ghost.kdf, known.kdf, "same shape");

    let wrong_password = relay.login("ada@example.com", &[7; 32]).await;
    let unknown_address = relay.login("ghost@example.com", &ada.auth_key).await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_address.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong_password.headers().get(header::SET_COOKIE).is_none());
    assert_eq!(
        json(wrong_password).await,
        json(unknown_address).await,
        "the same answer"
    );
    // Someone typed their password into the address field: the audit log keeps only a keyed
    // hash of text that is no account's address, and the address itself when it is one.
    let typed = relay.login("s3cret-pass@phrase", &ada.auth_key).await;
    assert_eq!(typed.status(), StatusCode::UNAUTHORIZED);
    let targets: Vec<String> = relay
        .store
        .audit_entries()
        .expect("audit")
        .into_iter()
        .flatten()
        .filter(|entry| entry.action == "auth.login")
        .filter_map(|entry| entry.target)
        .collect();
    assert!(
        !targets
            .iter()
            .any(|target| target.contains("s3cret") || target.contains("ghost")),
        "{targets:?}"
    );
    assert_eq!(
        targets
            .iter()
            .filter(|target| target.starts_with("unknown address "))
            .count(),
        2,
        "{targets:?}"
    );
    assert!(
        targets.contains(&"ada@example.com".to_owned()),
        "{targets:?}"
    );

    let right = relay.login("ada@example.com", &ada.auth_key).await;
    assert_eq!(right.status(), StatusCode::OK);
    let login = login_from(right).await;
    // The private key comes back sealed and opens with the password-derived wrap key.
    let master = derive_master_key(
        &Passphrase::new("a long enough password".to_owned()),
        &login.session.keys.salt,
        &login.session.keys.kdf,
    )
    .expect("derives");
    master
        .wrap_key()
        .open_private_key(&login.session.keys.sealed_private_key)
        .expect("the private key unlocks");
}

#[tokio::test]
async fn writes_need_the_csrf_token_and_logout_ends_the_session() {
    let relay = relay();
    let login = relay
        .signup(
            &account("ada@example.com", "a long enough password"),
            "ada-law",
        )
        .await;

    let mut no_token = login.clone();
    no_token.csrf = String::new();
    let refused = relay
        .call(Method::POST, "/api/auth/logout", Some(&no_token), None)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(refused).await["code"], "csrf");
    let mut wrong_token = login.clone();
    wrong_token.csrf = "A".repeat(43);
    let refused = relay
        .call(Method::POST, "/api/auth/logout", Some(&wrong_token), None)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let out = relay
        .call(Method::POST, "/api/auth/logout", Some(&login), None)
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    let after = relay.call(Method::GET, "/api/me", Some(&login), None).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    let first = relay.signup(&ada, "ada-law").await;
    let second = login_from(relay.login("ada@example.com", &ada.auth_key).await).await;
    let out = relay
        .call(Method::POST, "/api/auth/logout-all", Some(&second), None)
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    for login in [&first, &second] {
        let me = relay.call(Method::GET, "/api/me", Some(login), None).await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_absolute_limit() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    let idle = relay.signup(&ada, "ada-law").await;
    relay.clock.advance(29 * 60);
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&idle), None)
            .await
            .status(),
        StatusCode::OK
    );
    relay.clock.advance(31 * 60);
    let expired = relay.call(Method::GET, "/api/me", Some(&idle), None).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(
        json(expired).await["message"]
            .as_str()
            .expect("text")
            .contains("expired")
    );

    let busy = login_from(relay.login("ada@example.com", &ada.auth_key).await).await;
    for _ in 0..35 {
        relay.clock.advance(20 * 60);
        assert_eq!(
            relay
                .call(Method::GET, "/api/me", Some(&busy), None)
                .await
                .status(),
            StatusCode::OK
        );
    }
    relay.clock.advance(20 * 60);
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&busy), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "12 hours after log-in the session ends however busy"
    );
}

#[tokio::test]
async fn bad_sign_ups_get_clear_errors_and_change_nothing() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    relay.signup(&ada, "ada-law").await;
    let attempt = |email: &str, handle: &str, keys: serde_json::Value| {
        serde_json::json!({
            "email": email, "name": "Someone",
            "organisation": { "name": "Firm", "handle": handle }, "keys": keys,
        })
    };
    let keys = serde_json::to_value(&ada.keys).expect("keys");
    let cases = [
        (
            attempt("ada@example.com", "other-firm", keys.clone()),
            StatusCode::CONFLICT,
        ),
        (
            attempt("bob@example.com", "ada-law", keys.clone()),
            StatusCode::CONFLICT,
        ),
        (
            attempt("bob@example.com", "No Spaces!", keys.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            attempt("not-an-address", "bob-firm", keys.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            attempt(
                "bob@example.com",
                "bob-firm",
                serde_json::json!({ "public_key": "AAAA" }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in cases {
        let response = relay
            .call(Method::POST, "/api/auth/signup", None, Some(body.clone()))
            .await;
        assert_eq!(response.status(), status, "{body}");
    }
    let mut bad_key = keys.clone();
    bad_key["public_key"] = serde_json::json!(shared::encoding::encode(b"not a key"));
    let response = relay
        .call(
            Method::POST,
            "/api/auth/signup",
            None,
            Some(attempt("bob@example.com", "bob-firm", bad_key)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json(response).await["message"]
            .as_str()
            .expect("text")
            .contains("public key")
    );

    // Weaker password hashing than protocol v1's (a hostile page, or an old client) is refused:
    // the relay stores no account whose auth key is cheaper to attack, and none whose
    // parameters would tell prelogin's answer for it apart from an unknown address's.
    for weak in [
        serde_json::json!({ "alg": "argon2id", "m_kib": 19456, "t": 2, "p": 1 }),
        serde_json::json!({ "alg": "argon2id", "m_kib": 131072, "t": 3, "p": 1 }),
    ] {
        let mut weak_keys = keys.clone();
        weak_keys["kdf"] = weak.clone();
        let response = relay
            .call(
                Method::POST,
                "/api/auth/signup",
                None,
                Some(attempt("bob@example.com", "bob-firm", weak_keys)),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{weak}"
        );
        assert!(
            json(response).await["message"]
                .as_str()
                .expect("text")
                .contains("protocol v1's parameters")
        );
    }

    let malformed = Request::post("/api/auth/signup")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"email\":"))
        .expect("request");
    let response = relay
        .router
        .clone()
        .oneshot(malformed)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let wrong_type = Request::post("/api/auth/signup")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    let response = relay
        .router
        .clone()
        .oneshot(wrong_type)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(
        relay.store.orgs(None).expect("orgs").len(),
        1,
        "nothing else was created"
    );
}

#[tokio::test]
async fn the_audit_log_records_each_organisation_apart_and_the_operator_verifies() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    let bob = account("bob@example.com", "another long password");
    let ada_login = relay.signup(&ada, "ada-law").await;
    let bob_login = relay.signup(&bob, "bob-clinic").await;
    let _ = relay.login("ada@example.com", &[0; 32]).await;
    let _ = relay.login("ada@example.com", &ada.auth_key).await;

    let entries = json(
        relay
            .call(Method::GET, "/api/org/audit", Some(&ada_login), None)
            .await,
    )
    .await;
    let actions: Vec<&str> = entries
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["auth.login", "auth.signup"],
        "newest first, Ada's only"
    );
    let bad_query = relay
        .call(
            Method::GET,
            "/api/org/audit?limit=many",
            Some(&ada_login),
            None,
        )
        .await;
    assert_eq!(bad_query.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json(bad_query).await["code"],
        "bad_request",
        "a malformed query is a JSON error"
    );
    let bob_entries = json(
        relay
            .call(Method::GET, "/api/org/audit", Some(&bob_login), None)
            .await,
    )
    .await;
    assert_eq!(
        bob_entries.as_array().expect("a list").len(),
        1,
        "Bob sees only his sign-up"
    );

    let answer = execute(
        &relay.store,
        START,
        &AdminCommand::OrgVerify {
            handle: "ada-law".to_owned(),
        },
    );
    assert!(answer.ok, "{}", answer.message);
    let me = json(
        relay
            .call(Method::GET, "/api/me", Some(&ada_login), None)
            .await,
    )
    .await;
    assert_eq!(me["organisation"]["status"], "verified");
    let missing = execute(
        &relay.store,
        START,
        &AdminCommand::OrgVerify {
            handle: "nobody".to_owned(),
        },
    );
    assert!(!missing.ok);
    let not_suspended = execute(
        &relay.store,
        START,
        &AdminCommand::OrgReinstate {
            handle: "bob-clinic".to_owned(),
        },
    );
    assert!(
        !not_suspended.ok,
        "only a suspended organisation can be reinstated"
    );
    let pending = execute(
        &relay.store,
        START,
        &AdminCommand::OrgsList {
            status: Some(OrgStatus::Pending),
        },
    );
    assert!(
        pending.message.contains("bob-clinic") && !pending.message.contains("ada-law"),
        "{}",
        pending.message
    );

    let entries = json(
        relay
            .call(Method::GET, "/api/org/audit", Some(&ada_login), None)
            .await,
    )
    .await;
    let newest = &entries.as_array().expect("a list")[0];
    assert_eq!(newest["action"], "org.verify");
    assert_eq!(newest["actor_kind"], "operator");
    assert_eq!(
        relay.store.audit_verify().expect("reads"),
        Ok(8),
        "the chain holds"
    );

    // A signed checkpoint for the organisation to keep: the operator's verification against it
    // holds while the log does, and names a cut-off tail.
    let checkpoint = relay
        .call(
            Method::GET,
            "/api/org/audit/checkpoint",
            Some(&ada_login),
            None,
        )
        .await;
    assert_eq!(checkpoint.status(), StatusCode::OK);
    let checkpoint: wire::AuditCheckpoint =
        serde_json::from_value(json(checkpoint).await).expect("a checkpoint");
    assert_eq!(checkpoint.seq, 7);
    let text = serde_json::to_string(&checkpoint).expect("JSON");
    let verified = execute(
        &relay.store,
        START,
        &AdminCommand::AuditVerify {
            since: Some(text.clone()),
        },
    );
    assert!(verified.ok, "{}", verified.message);
    let mut forged = checkpoint.clone();
    forged.seq = 2;
    let refused = execute(
        &relay.store,
        START,
        &AdminCommand::AuditVerify {
            since: Some(serde_json::to_string(&forged).expect("JSON")),
        },
    );
    assert!(
        !refused.ok && refused.message.contains("signature"),
        "{}",
        refused.message
    );
    // The operator's own checkpoint says the same in the short form too.
    let own = execute(&relay.store, START, &AdminCommand::AuditCheckpoint);
    assert!(own.ok, "{}", own.message);
    let short = format!(
        "{}:{}",
        own.data["seq"],
        own.data["hash"].as_str().expect("hash")
    );
    let verified = execute(
        &relay.store,
        START,
        &AdminCommand::AuditVerify { since: Some(short) },
    );
    assert!(verified.ok, "{}", verified.message);
}

#[tokio::test]
async fn the_session_probe_answers_200_with_or_without_a_session() {
    let relay = relay();
    let anonymous = relay.call(Method::GET, "/api/session", None, None).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    assert_eq!(
        json(anonymous).await,
        serde_json::json!({ "session": null })
    );
    let login = relay
        .signup(
            &account("ada@example.com", "a long enough password"),
            "ada-law",
        )
        .await;
    let known = relay
        .call(Method::GET, "/api/session", Some(&login), None)
        .await;
    assert_eq!(known.status(), StatusCode::OK);
    assert_eq!(
        json(known).await["session"]["user"]["email"],
        "ada@example.com"
    );
}

#[tokio::test]
async fn ten_failures_from_one_ip_block_it_for_a_day_even_across_a_restart() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    relay.signup(&ada, "ada-law").await;
    let attacker = Some("192.0.2.66");
    for n in 0..10 {
        // Different addresses each time, so only the per-IP limit is at work.
        let response = relay
            .login_from(attacker, &format!("guess{n}@example.com"), &[1; 32])
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "failure {n}");
    }
    let eleventh = relay
        .login_from(attacker, "ada@example.com", &ada.auth_key)
        .await;
    assert_eq!(
        eleventh.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password"
    );
    let body = json(eleventh).await;
    assert_eq!(body["code"], "ip_blocked");
    assert!(
        body["message"]
            .as_str()
            .expect("text")
            .contains("blocked for about 24"),
        "{body}"
    );
    let elsewhere = relay
        .login_from(Some("198.51.100.1"), "ada@example.com", &ada.auth_key)
        .await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "other addresses are not affected"
    );

    let relay = relay.restart();
    let still = relay
        .login_from(attacker, "ada@example.com", &ada.auth_key)
        .await;
    assert_eq!(
        still.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the block survives a restart"
    );
    let listed = execute(&relay.store, START, &AdminCommand::BlocksList);
    assert!(listed.message.contains("192.0.2.66"), "{}", listed.message);

    relay.clock.advance(24 * 3600);
    let later = relay
        .login_from(attacker, "ada@example.com", &ada.auth_key)
        .await;
    assert_eq!(
        later.status(),
        StatusCode::OK,
        "the block ends after 24 hours"
    );
}

#[tokio::test]
async fn a_forwarding_peer_outside_trusted_proxies_is_named_once_in_the_log() {
    let relay = relay();
    let captured = relay::logging::Captured::default();
    let config = relay::config::LogConfig {
        format: relay::config::LogFormat::Json,
        filter: "warn".to_owned(),
    };
    let dispatch = relay::logging::dispatch(&config, captured.clone(), false).expect("a logger");
    let _default = tracing::dispatcher::set_default(&dispatch);
    for _ in 0..3 {
        let peer: std::net::SocketAddr = "10.0.0.2:40000".parse().expect("address");
        let request = Request::post("/api/auth/prelogin")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", "198.51.100.7")
            .extension(axum::extract::ConnectInfo(peer))
            .body(Body::from(r#"{"email":"someone@example.com"}"#))
            .expect("request");
        let response = relay
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let text = captured.text();
    assert_eq!(text.matches("trusted_proxies").count(), 1, "{text}");
    assert!(text.contains("10.0.0.2"), "{text}");
}

#[tokio::test]
async fn failures_outside_the_window_do_not_add_up_and_the_operator_can_lift_a_block() {
    let relay = relay();
    let ip = Some("192.0.2.77");
    for n in 0..9 {
        relay
            .login_from(ip, &format!("a{n}@example.com"), &[1; 32])
            .await;
    }
    relay.clock.advance(16 * 60);
    let tenth = relay.login_from(ip, "b@example.com", &[1; 32]).await;
    assert_eq!(tenth.status(), StatusCode::UNAUTHORIZED);
    let next = relay.login_from(ip, "c@example.com", &[1; 32]).await;
    assert_eq!(
        next.status(),
        StatusCode::UNAUTHORIZED,
        "old failures left the window"
    );

    for n in 0..10 {
        relay
            .login_from(ip, &format!("d{n}@example.com"), &[1; 32])
            .await;
    }
    assert_eq!(
        relay
            .login_from(ip, "e@example.com", &[1; 32])
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let lifted = execute(
        &relay.store,
        START,
        &AdminCommand::BlockLift {
            ip: "192.0.2.77".to_owned(),
        },
    );
    assert!(lifted.ok, "{}", lifted.message);
    assert_eq!(
        relay
            .login_from(ip, "e@example.com", &[1; 32])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let again = execute(
        &relay.store,
        START,
        &AdminCommand::BlockLift {
            ip: "192.0.2.77".to_owned(),
        },
    );
    assert!(!again.ok, "nothing left to lift");
}

#[tokio::test]
async fn the_attempt_past_the_networks_allowance_meets_the_block_even_while_the_account_waits() {
    let relay = relay();
    let ip = Some("198.51.100.20");
    let code = |response: Response| async move { json(response).await["code"].clone() };
    // Ten failures, each after the account's wait has passed (so none is throttled)...
    for n in 0..10_u8 {
        let response = relay.login_from(ip, "mallory@example.com", &[n; 32]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "failure {n}");
        relay.clock.advance(if n < 5 { 0 } else { 1 << (n - 5) });
    }
    // ...then one while the account waits: the network's block is the answer, not the wait.
    relay.clock.advance(-1);
    let eleventh = relay.login_from(ip, "mallory@example.com", &[11; 32]).await;
    assert_eq!(code(eleventh).await, "ip_blocked");
}

#[tokio::test]
async fn an_account_under_attack_slows_down_exponentially_and_recovers_on_success() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    relay.signup(&ada, "ada-law").await;
    for n in 0..6 {
        let response = relay.login("ada@example.com", &[n; 32]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "failure {n}");
    }
    let throttled = relay.login("ada@example.com", &ada.auth_key).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json(throttled).await["code"], "throttled");
    relay.clock.advance(1);
    assert_eq!(
        relay.login("ada@example.com", &[9; 32]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    relay.clock.advance(1);
    assert_eq!(
        relay.login("ada@example.com", &ada.auth_key).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the seventh failure doubled the wait to 2 seconds"
    );
    relay.clock.advance(1);
    assert_eq!(
        relay.login("ada@example.com", &ada.auth_key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        relay.login("ada@example.com", &[9; 32]).await.status(),
        StatusCode::UNAUTHORIZED,
        "a success reset the count: the next failure is not throttled"
    );
    // An unknown address is throttled exactly the same way (no account enumeration).
    for n in 0..6 {
        relay.login("ghost@example.com", &[n; 32]).await;
    }
    assert_eq!(
        relay.login("ghost@example.com", &[1; 32]).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

impl Relay {
    /// Invites `email` into the inviter's organisation with `role`; returns the token.
    /// Invites `email`; a pending organisation is verified first (only verified ones invite).
    pub(super) async fn invite(&self, inviter: &Login, email: &str, role: &str) -> String {
        let handle = &inviter.session.organisation.handle;
        let org = self
            .store
            .org_by_handle(handle)
            .expect("store")
            .expect("the inviter's organisation");
        if org.status == OrgStatus::Pending {
            let done = execute(
                &self.store,
                START,
                &AdminCommand::OrgVerify {
                    handle: handle.clone(),
                },
            );
            assert!(done.ok, "{}", done.message);
        }
        let response = self
            .call(
                Method::POST,
                "/api/org/invites",
                Some(inviter),
                Some(serde_json::json!({ "email": email, "role": role })),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        json(response).await["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    pub(super) async fn join(&self, account: &Account, token: &str) -> Response {
        let body = serde_json::json!({
            "email": account.email, "name": "New Member", "invite": token, "keys": account.keys,
        });
        self.call(Method::POST, "/api/auth/signup", None, Some(body))
            .await
    }
}

#[tokio::test]
async fn invitations_work_once_for_their_address_and_roles_end_sessions() {
    let relay = relay();
    let owner = relay
        .signup(
            &account("owner@a.example", "a long enough password"),
            "firm-a",
        )
        .await;
    let token = relay.invite(&owner, "Member@A.example", "member").await;
    let policy = serde_json::json!({ "min_password_length": 16, "max_password_age_days": null, "mfa_required": false });
    relay
        .call(Method::PUT, "/api/org/policy", Some(&owner), Some(policy))
        .await;

    let lookup = relay
        .call(
            Method::POST,
            "/api/auth/invite",
            None,
            Some(serde_json::json!({ "token": token })),
        )
        .await;
    assert_eq!(lookup.status(), StatusCode::OK);
    let lookup = json(lookup).await;
    assert_eq!(
        (lookup["organisation"].as_str(), lookup["role"].as_str()),
        (Some("Firm firm-a"), Some("member"))
    );
    assert_eq!(
        lookup["min_password_length"], 16,
        "the join page learns the policy"
    );

    let stranger = account("stranger@a.example", "a long enough password");
    let wrong_address = relay.join(&stranger, &token).await;
    assert_eq!(wrong_address.status(), StatusCode::CONFLICT);
    assert!(
        json(wrong_address).await["message"]
            .as_str()
            .expect("text")
            .contains("another e-mail")
    );

    let member = account("member@a.example", "a long enough password");
    let joined = relay.join(&member, &token).await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let member_login = login_from(joined).await;
    assert_eq!(member_login.session.user.role, Role::Member);
    assert_eq!(
        member_login.session.organisation.id,
        owner.session.organisation.id
    );
    let again = relay
        .join(&account("member@a.example", "another password!!"), &token)
        .await;
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "an invitation works once"
    );

    // Promotion ends the member's sessions (they log in again to act with the new role).
    let path = format!("/api/org/members/{}/role", member_login.session.user.id);
    let promoted = relay
        .call(
            Method::POST,
            &path,
            Some(&owner),
            Some(serde_json::json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&member_login), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let expired = relay.invite(&owner, "late@a.example", "member").await;
    relay.clock.advance(7 * 24 * 3600);
    let late = relay
        .join(
            &account("late@a.example", "a long enough password"),
            &expired,
        )
        .await;
    assert_eq!(
        late.status(),
        StatusCode::CONFLICT,
        "invitations expire after a week"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_verified_organisations_invite_and_only_so_many_a_day() {
    let relay = std::sync::Arc::new(relay_with(|config| {
        config.rate_limits.invitations_per_org_per_day = 3;
    }));
    let owner_account = account("owner@a.example", "a long enough password");
    let owner = relay.signup(&owner_account, "firm-a").await;
    let invite = |owner: Login, email: String| {
        let relay = relay.clone();
        async move {
            relay
                .call(
                    Method::POST,
                    "/api/org/invites",
                    Some(&owner),
                    Some(serde_json::json!({ "email": email, "role": "member" })),
                )
                .await
        }
    };
    // A pending organisation cannot make the relay mail anyone (a phishing relay otherwise).
    let pending = invite(owner.clone(), "someone@b.example".to_owned()).await;
    assert_eq!(pending.status(), StatusCode::FORBIDDEN);
    assert!(
        json(pending).await["message"]
            .as_str()
            .expect("words")
            .contains("verification")
    );
    let done = execute(
        &relay.store,
        START,
        &AdminCommand::OrgVerify {
            handle: "firm-a".to_owned(),
        },
    );
    assert!(done.ok);

    // A burst of 40 parallel invitations creates exactly the day's 3.
    let mut tasks = Vec::new();
    for n in 0..40 {
        tasks.push(tokio::spawn(invite(
            owner.clone(),
            format!("burst{n}@b.example"),
        )));
    }
    let mut created = 0;
    let mut limited = 0;
    for task in tasks {
        match task.await.expect("task").status() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, limited), (3, 37));
    let listed = json(
        relay
            .call(Method::GET, "/api/org/invites", Some(&owner), None)
            .await,
    )
    .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    // The next UTC day has its own allowance.
    relay.clock.advance(24 * 3600);
    let owner = login_from(
        relay
            .login("owner@a.example", &owner_account.auth_key)
            .await,
    )
    .await;
    assert_eq!(
        invite(owner, "tomorrow@b.example".to_owned())
            .await
            .status(),
        StatusCode::CREATED
    );
}

/// Every endpoint of the accounts issue × every role × two organisations.
#[tokio::test]
async fn every_endpoint_for_every_role_and_across_tenants() {
    let relay = relay();
    let owner = relay
        .signup(
            &account("owner@a.example", "a long enough password"),
            "firm-a",
        )
        .await;
    let mut logins = vec![("owner", owner.clone())];
    for role in ["admin", "member"] {
        let email = format!("{role}@a.example");
        let token = relay.invite(&owner, &email, role).await;
        let joined = relay
            .join(&account(&email, "a long enough password"), &token)
            .await;
        logins.push((role, login_from(joined).await));
    }
    let other_owner = relay
        .signup(
            &account("owner@b.example", "a long enough password"),
            "firm-b",
        )
        .await;
    let victim_token = relay
        .invite(&other_owner, "victim@b.example", "member")
        .await;
    let victim = login_from(
        relay
            .join(
                &account("victim@b.example", "a long enough password"),
                &victim_token,
            )
            .await,
    )
    .await;
    relay
        .invite(&other_owner, "pending@b.example", "member")
        .await;
    let b_invites = json(
        relay
            .call(Method::GET, "/api/org/invites", Some(&other_owner), None)
            .await,
    )
    .await;
    let b_invite_id = b_invites[0]["id"].as_str().expect("an id").to_owned();

    for (role, login) in &logins {
        let manager = *role != "member";
        let expect = |ok: StatusCode| if manager { ok } else { StatusCode::FORBIDDEN };
        let own = [
            (Method::GET, "/api/me".to_owned(), None, StatusCode::OK),
            (Method::GET, "/api/session".to_owned(), None, StatusCode::OK),
            (
                Method::GET,
                "/api/org/audit".to_owned(),
                None,
                expect(StatusCode::OK),
            ),
            (
                Method::GET,
                "/api/org/audit/checkpoint".to_owned(),
                None,
                expect(StatusCode::OK),
            ),
            (
                Method::GET,
                "/api/org/members".to_owned(),
                None,
                expect(StatusCode::OK),
            ),
            (
                Method::GET,
                "/api/org/invites".to_owned(),
                None,
                expect(StatusCode::OK),
            ),
            (
                Method::POST,
                "/api/org/invites".to_owned(),
                Some(
                    serde_json::json!({ "email": format!("new-{role}@a.example"), "role": "member" }),
                ),
                expect(StatusCode::CREATED),
            ),
        ];
        for (method, path, body, status) in own {
            let response = relay.call(method.clone(), &path, Some(login), body).await;
            assert_eq!(response.status(), status, "{role} {method} {path}");
        }
        // Across tenants: whatever the role, organisation B's members and invitations are
        // out of reach (403 by authorization, 404 where the lookup is scoped).
        let cross = [
            (
                Method::POST,
                format!("/api/org/members/{}/role", victim.session.user.id),
                Some(serde_json::json!({ "role": "admin" })),
                StatusCode::FORBIDDEN,
            ),
            (
                Method::POST,
                format!("/api/org/members/{}/mfa-reset", victim.session.user.id),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::DELETE,
                format!("/api/org/members/{}", victim.session.user.id),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::DELETE,
                format!("/api/org/invites/{b_invite_id}"),
                None,
                if manager {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                },
            ),
        ];
        for (method, path, body, status) in cross {
            let response = relay.call(method.clone(), &path, Some(login), body).await;
            assert_eq!(
                response.status(),
                status,
                "{role} {method} {path} across tenants"
            );
        }
    }
    // B's member is intact and B's invitation still pending.
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&victim), None)
            .await
            .status(),
        StatusCode::OK
    );
    let b_invites = json(
        relay
            .call(Method::GET, "/api/org/invites", Some(&other_owner), None)
            .await,
    )
    .await;
    assert_eq!(b_invites.as_array().expect("a list").len(), 1);

    // Within A: the owner cannot be demoted or removed; an admin removes a member, whose
    // sessions end; a member cannot remove anyone.
    let (_, admin) = &logins[1];
    let (_, member) = &logins[2];
    let owner_id = logins[0].1.session.user.id;
    let demote_owner = relay
        .call(
            Method::POST,
            &format!("/api/org/members/{owner_id}/role"),
            Some(admin),
            Some(serde_json::json!({ "role": "member" })),
        )
        .await;
    assert_eq!(demote_owner.status(), StatusCode::FORBIDDEN);
    let by_member = relay
        .call(
            Method::DELETE,
            &format!("/api/org/members/{}", admin.session.user.id),
            Some(member),
            None,
        )
        .await;
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN);
    let removed = relay
        .call(
            Method::DELETE,
            &format!("/api/org/members/{}", member.session.user.id),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(member), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let members = json(
        relay
            .call(Method::GET, "/api/org/members", Some(admin), None)
            .await,
    )
    .await;
    assert_eq!(members.as_array().expect("a list").len(), 2);
    assert_eq!(
        relay.store.audit_verify().expect("reads").map(|n| n > 10),
        Ok(true)
    );
}

/// New key material for `password`, re-sealing the same private key (every test account uses
/// the same fixture key pair, so this is what the browser does on a password change).
fn rewrap(password: &str) -> (wire::AccountKeys, [u8; 32]) {
    let again = account("unused@example.com", password);
    (again.keys, again.auth_key)
}

#[tokio::test]
async fn an_expired_password_must_be_changed_first_and_documents_stay_readable() {
    let relay = relay();
    let ada = account("ada@example.com", "the first long password");
    let owner = relay.signup(&ada, "ada-law").await;
    let policy = serde_json::json!({ "min_password_length": 14, "max_password_age_days": 90, "mfa_required": false });
    let set = relay
        .call(
            Method::PUT,
            "/api/org/policy",
            Some(&owner),
            Some(policy.clone()),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let weak = serde_json::json!({ "min_password_length": 8, "max_password_age_days": null, "mfa_required": false });
    assert_eq!(
        relay
            .call(Method::PUT, "/api/org/policy", Some(&owner), Some(weak))
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no organisation goes below 12 characters"
    );

    // A document wrapped to Ada's public key before the change.
    let public = shared::crypto::UserPublicKey::from_spki_der(&owner.session.keys.public_key)
        .expect("public key");
    let document_key = shared::crypto::BundleKey::generate(&mut OsRng);
    let wrapped = public.wrap(&document_key, &mut OsRng).expect("wraps");

    relay.clock.advance(91 * 86_400);
    let login = login_from(relay.login("ada@example.com", &ada.auth_key).await).await;
    assert!(login.session.password_expired);
    assert_eq!(login.session.policy.min_password_length, 14);
    let blocked = relay
        .call(Method::GET, "/api/org/audit", Some(&login), None)
        .await;
    assert_eq!(blocked.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(blocked).await["code"], "password_expired");
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&login), None)
            .await
            .status(),
        StatusCode::OK
    );
    let other_session = login_from(relay.login("ada@example.com", &ada.auth_key).await).await;

    let (new_keys, new_auth) = rewrap("the second long password");
    let wrong = relay
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&login),
            Some(serde_json::json!({ "current_auth_key": shared::encoding::encode(&[0; 32]), "keys": new_keys })),
        )
        .await;
    assert_eq!(
        wrong.status(),
        StatusCode::FORBIDDEN,
        "the current password must be proven"
    );
    let changed = relay
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&login),
            Some(serde_json::json!({ "current_auth_key": shared::encoding::encode(&ada.auth_key), "keys": new_keys })),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(json(changed).await["password_expired"], false);
    assert_eq!(
        relay
            .call(Method::GET, "/api/org/audit", Some(&login), None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&other_session), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "a password change ends the other sessions"
    );

    assert_eq!(
        relay.login("ada@example.com", &ada.auth_key).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = login_from(relay.login("ada@example.com", &new_auth).await).await;
    let master = derive_master_key(
        &Passphrase::new("the second long password".to_owned()),
        &fresh.session.keys.salt,
        &fresh.session.keys.kdf,
    )
    .expect("derives");
    let private = master
        .wrap_key()
        .open_private_key(&fresh.session.keys.sealed_private_key)
        .expect("the same private key unlocks with the new password");
    assert_eq!(
        private
            .unwrap(&wrapped)
            .expect("the old document opens")
            .dangerously_expose_bytes(),
        document_key.dangerously_expose_bytes()
    );
}

async fn enrol_totp(relay: &Relay, login: &Login) -> (Vec<u8>, Vec<String>) {
    let setup = json(
        relay
            .call(Method::POST, "/api/auth/mfa/setup", Some(login), None)
            .await,
    )
    .await;
    let uri = setup["otpauth_uri"].as_str().expect("a uri");
    assert!(uri.starts_with("otpauth://totp/Sealpost:"), "{uri}");
    let secret = base32_decode(setup["secret"].as_str().expect("a secret"));
    let wrong = relay
        .call(
            Method::POST,
            "/api/auth/mfa/confirm",
            Some(login),
            Some(serde_json::json!({ "code": "000000" })),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let code = relay::totp::code_at(&secret, START);
    let confirmed = relay
        .call(
            Method::POST,
            "/api/auth/mfa/confirm",
            Some(login),
            Some(serde_json::json!({ "code": code })),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes: Vec<String> =
        serde_json::from_value(json(confirmed).await["recovery_codes"].clone()).expect("codes");
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for c in text.chars() {
        buffer = (buffer << 5) | ALPHABET.find(c).expect("base32") as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

#[tokio::test]
async fn totp_enrolment_login_replay_recovery_codes_and_reset() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    let owner = relay.signup(&ada, "ada-law").await;
    let (secret, codes) = enrol_totp(&relay, &owner).await;

    // Log-in now needs a code: the password alone gives a ticket, no cookie.
    let first = relay.login("ada@example.com", &ada.auth_key).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get(header::SET_COOKIE).is_none());
    let ticket = json(first).await["mfa_ticket"]
        .as_str()
        .expect("a ticket")
        .to_owned();
    let verify = |code: String, ticket: String| {
        let relay = &relay;
        async move {
            relay
                .call(
                    Method::POST,
                    "/api/auth/mfa/verify",
                    None,
                    Some(serde_json::json!({ "ticket": ticket, "code": code })),
                )
                .await
        }
    };
    // The code used at enrolment cannot be replayed within its window.
    let replay = verify(relay::totp::code_at(&secret, START), ticket.clone()).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    relay.clock.advance(30);
    let fresh = verify(relay::totp::code_at(&secret, START + 30), ticket.clone()).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let login = login_from(fresh).await;
    assert!(login.session.mfa_enabled);
    let spent = verify(relay::totp::code_at(&secret, START + 30), ticket).await;
    assert_eq!(
        spent.status(),
        StatusCode::UNAUTHORIZED,
        "a ticket works once"
    );

    // A recovery code works once, in any case and spacing.
    let ticket = json(relay.login("ada@example.com", &ada.auth_key).await).await["mfa_ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    let recovery = codes[3].to_lowercase().replace('-', " ");
    assert_eq!(
        verify(recovery.clone(), ticket).await.status(),
        StatusCode::OK
    );
    let ticket = json(relay.login("ada@example.com", &ada.auth_key).await).await["mfa_ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    assert_eq!(
        verify(recovery, ticket).await.status(),
        StatusCode::UNAUTHORIZED,
        "used up"
    );

    // Five wrong codes spend the ticket.
    let ticket = json(relay.login("ada@example.com", &ada.auth_key).await).await["mfa_ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    for _ in 0..5 {
        assert_eq!(
            verify("111111".to_owned(), ticket.clone()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        verify(relay::totp::code_at(&secret, START + 30 + 60), ticket)
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the ticket is spent"
    );

    // Resetting a second factor goes only downwards: an admin cannot remove the owner's, nobody
    // removes their own without a code, and an admin cannot remove another admin's.
    let token = relay.invite(&owner, "admin@example.com", "admin").await;
    let admin_account = account("admin@example.com", "a long enough password");
    let admin = login_from(relay.join(&admin_account, &token).await).await;
    let reset = |login: &Login, whose: shared::ids::Id| {
        let relay = &relay;
        let login = login.clone();
        async move {
            relay
                .call(
                    Method::POST,
                    &format!("/api/org/members/{whose}/mfa-reset"),
                    Some(&login),
                    None,
                )
                .await
        }
    };
    let refused = reset(&admin, owner.session.user.id).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "admin over owner");
    assert!(
        json(refused).await["message"]
            .as_str()
            .expect("words")
            .contains("relay's operator")
    );
    assert_eq!(
        reset(&login, owner.session.user.id).await.status(),
        StatusCode::FORBIDDEN,
        "the owner over their own"
    );
    let (_, _) = enrol_totp(&relay, &admin).await;
    assert_eq!(
        reset(&admin, admin.session.user.id).await.status(),
        StatusCode::FORBIDDEN,
        "an admin over their own"
    );
    let token = relay.invite(&login, "second@example.com", "admin").await;
    let second = login_from(
        relay
            .join(
                &account("second@example.com", "a long enough password"),
                &token,
            )
            .await,
    )
    .await;
    assert_eq!(
        reset(&second, admin.session.user.id).await.status(),
        StatusCode::FORBIDDEN,
        "an admin over another admin"
    );
    let still = json(relay.login("ada@example.com", &ada.auth_key).await).await;
    assert!(
        still["mfa_ticket"].is_string(),
        "the owner's factor stays: {still}"
    );
    let ticket = still["mfa_ticket"].as_str().expect("ticket").to_owned();
    relay.clock.advance(30);
    let login = login_from(
        relay
            .call(
                Method::POST,
                "/api/auth/mfa/verify",
                None,
                Some(serde_json::json!({
                    "ticket": ticket,
                    "code": relay::totp::code_at(&secret, START + 60),
                })),
            )
            .await,
    )
    .await;

    // The owner removes an admin's factor; that ends the admin's sessions.
    assert_eq!(
        reset(&login, admin.session.user.id).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&admin), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let plain = json(
        relay
            .login("admin@example.com", &admin_account.auth_key)
            .await,
    )
    .await;
    assert!(plain["session"].is_object(), "{plain}");

    // The owner's goes only by the operator's command, which ends the owner's sessions and is
    // audited.
    let done = execute(
        &relay.store,
        START,
        &AdminCommand::UserMfaReset {
            email: "ada@example.com".to_owned(),
        },
    );
    assert!(done.ok, "{}", done.message);
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&login), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    relay.clock.advance(600);
    let plain = json(relay.login("ada@example.com", &ada.auth_key).await).await;
    assert!(
        plain["session"].is_object(),
        "no second factor any more: {plain}"
    );
    let entries = relay.store.audit_entries().expect("audit");
    assert!(
        entries
            .iter()
            .flatten()
            .any(|entry| entry.action == "auth.mfa_reset"
                && matches!(entry.actor, relay::audit::Actor::Operator)
                && entry.target.as_deref() == Some("ada@example.com")),
        "the operator's reset is audited"
    );
}

#[tokio::test]
async fn an_mfa_policy_forces_enrolment_before_anything_else() {
    let relay = relay();
    let ada = account("ada@example.com", "a long enough password");
    let owner = relay.signup(&ada, "ada-law").await;
    let policy = serde_json::json!({ "min_password_length": 12, "max_password_age_days": null, "mfa_required": true });
    assert_eq!(
        relay
            .call(Method::PUT, "/api/org/policy", Some(&owner), Some(policy))
            .await
            .status(),
        StatusCode::OK
    );
    let me = json(relay.call(Method::GET, "/api/me", Some(&owner), None).await).await;
    assert_eq!(me["mfa_enrolment_required"], true);
    let blocked = relay
        .call(Method::GET, "/api/org/audit", Some(&owner), None)
        .await;
    assert_eq!(blocked.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(blocked).await["code"], "mfa_enrolment_required");
    enrol_totp(&relay, &owner).await;
    assert_eq!(
        relay
            .call(Method::GET, "/api/org/audit", Some(&owner), None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn ownership_moves_only_by_the_owner_and_closing_purges_after_ninety_days() {
    let relay = relay();
    let owner = relay
        .signup(
            &account("owner@a.example", "a long enough password"),
            "firm-a",
        )
        .await;
    let token = relay.invite(&owner, "heir@a.example", "admin").await;
    let heir_account = account("heir@a.example", "a long enough password");
    let heir = login_from(relay.join(&heir_account, &token).await).await;
    let outsider = relay
        .signup(
            &account("owner@b.example", "a long enough password"),
            "firm-b",
        )
        .await;

    let by_admin = relay
        .call(
            Method::POST,
            "/api/org/transfer",
            Some(&heir),
            Some(serde_json::json!({ "member": heir.session.user.id })),
        )
        .await;
    assert_eq!(
        by_admin.status(),
        StatusCode::FORBIDDEN,
        "only the owner transfers"
    );
    let across = relay
        .call(
            Method::POST,
            "/api/org/transfer",
            Some(&outsider),
            Some(serde_json::json!({ "member": heir.session.user.id })),
        )
        .await;
    assert_eq!(
        across.status(),
        StatusCode::FORBIDDEN,
        "not to another organisation's member"
    );
    let moved = relay
        .call(
            Method::POST,
            "/api/org/transfer",
            Some(&owner),
            Some(serde_json::json!({ "member": heir.session.user.id })),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(
        json(moved).await["user"]["role"],
        "admin",
        "the old owner is now an admin"
    );
    let heir = login_from(relay.login("heir@a.example", &heir_account.auth_key).await).await;
    assert_eq!(heir.session.user.role, Role::Owner);

    let wrong_handle = relay
        .call(
            Method::POST,
            "/api/org/close",
            Some(&heir),
            Some(serde_json::json!({ "handle": "firm-b" })),
        )
        .await;
    assert_eq!(wrong_handle.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let by_admin = relay
        .call(
            Method::POST,
            "/api/org/close",
            Some(&owner),
            Some(serde_json::json!({ "handle": "firm-a" })),
        )
        .await;
    assert_eq!(
        by_admin.status(),
        StatusCode::FORBIDDEN,
        "the former owner may not close it"
    );
    let closed = relay
        .call(
            Method::POST,
            "/api/org/close",
            Some(&heir),
            Some(serde_json::json!({ "handle": "firm-a" })),
        )
        .await;
    assert_eq!(closed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        relay
            .call(Method::GET, "/api/me", Some(&heir), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let refused = relay.login("heir@a.example", &heir_account.auth_key).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        json(refused).await["message"]
            .as_str()
            .expect("text")
            .contains("closed")
    );
    let verify = execute(
        &relay.store,
        START,
        &AdminCommand::OrgVerify {
            handle: "firm-a".to_owned(),
        },
    );
    assert!(
        !verify.ok,
        "the operator cannot reopen a closed organisation"
    );

    assert_eq!(
        relay::retention::sweep(&relay.store, START + 89 * 86_400).expect("sweeps"),
        0
    );
    assert!(
        relay
            .store
            .org_by_handle("firm-a")
            .expect("reads")
            .is_some(),
        "kept for 90 days"
    );
    assert_eq!(
        relay::retention::sweep(&relay.store, START + 91 * 86_400).expect("sweeps"),
        1
    );
    assert!(
        relay
            .store
            .org_by_handle("firm-a")
            .expect("reads")
            .is_none(),
        "purged"
    );
    assert!(
        relay
            .store
            .user_by_email("heir@a.example")
            .expect("reads")
            .is_none(),
        "users purged"
    );
    assert!(
        relay
            .store
            .org_by_handle("firm-b")
            .expect("reads")
            .is_some(),
        "others untouched"
    );
    assert_eq!(
        relay.store.audit_verify().expect("reads").map(|n| n > 0),
        Ok(true)
    );
}
