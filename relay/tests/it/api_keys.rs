//! Organisation API keys through the relay's router: made by owners and admins, shown once,
//! stored as a hash, used with `Authorization: Bearer` only; scopes decided by `authz` (a key
//! never does what a session alone may); revoked, expired and suspended keys do nothing, also
//! after a restart; a burst on one key holds its rate; uses and changes are audited with the
//! key's name. A key sends a real document that a recipient opens with identical bytes.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use relay::admin::{AdminCommand, execute};
use shared::ids::Id;
use shared::wire::{self, ApiScope};

use super::sends::{DAY, bundle};
use super::support::*;

impl Relay {
    /// A key made by `login` with `scopes`; its view and secret.
    async fn make_key(
        &self,
        login: &Login,
        name: &str,
        scopes: &[ApiScope],
        expires_at: Option<i64>,
    ) -> (wire::ApiKeyView, String) {
        let body = wire::CreateApiKeyRequest {
            name: name.to_owned(),
            scopes: scopes.to_vec(),
            expires_at,
        };
        let response = self
            .call(
                Method::POST,
                "/api/org/api-keys",
                Some(login),
                Some(serde_json::to_value(&body).expect("JSON")),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let made: wire::CreateApiKeyResponse =
            serde_json::from_value(json(response).await).expect("a made key");
        (made.key, made.secret.dangerously_expose().to_owned())
    }

    async fn status_of(&self, method: Method, path: &str, login: &Login) -> StatusCode {
        let body = (method == Method::POST).then(|| serde_json::json!({}));
        self.call(method, path, Some(login), body).await.status()
    }

    async fn audit_of(&self, login: &Login) -> Vec<wire::AuditEntryView> {
        let response = self
            .call(Method::GET, "/api/org/audit", Some(login), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_value(json(response).await).expect("audit entries")
    }
}

const ALL: &[ApiScope] = &ApiScope::ALL;

#[tokio::test]
async fn a_key_sends_a_document_that_the_recipient_opens_and_its_use_is_audited_by_name() {
    let relay = relay();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    let (view, secret) = relay
        .make_key(
            &owner,
            "Practice system",
            &[ApiScope::SendsWrite, ApiScope::SendsRead],
            None,
        )
        .await;
    assert!(secret.starts_with("sp_") && secret.len() == 46, "{secret}");
    assert_eq!(view.prefix, secret[..11]);
    assert_eq!(view.scopes, vec![ApiScope::SendsWrite, ApiScope::SendsRead]);
    let key = owner.api_key(&secret);

    let sent = bundle(&[1_500_000, 10]);
    let link = relay.send(&key, &sent, 1, 7 * DAY).await;
    let listed: Vec<wire::SendView> = serde_json::from_value(
        json(
            relay
                .call(Method::GET, "/api/sends", Some(&key), None)
                .await,
        )
        .await,
    )
    .expect("sends");
    assert_eq!(
        listed.iter().map(|send| send.id).collect::<Vec<_>>(),
        vec![link.id]
    );

    let opened = relay.open_ok(&link).await;
    let (_, _, plaintexts) = relay.receive(&link, &opened).await;
    assert_eq!(plaintexts, sent.plaintexts);

    // The listing shows the key, never its secret; the log names the key for what it did.
    let keys = json(
        relay
            .call(Method::GET, "/api/org/api-keys", Some(&owner), None)
            .await,
    )
    .await;
    let keys: Vec<wire::ApiKeyView> = serde_json::from_value(keys).expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].last_used_at, Some(relay.now()));
    let entries = relay.audit_of(&owner).await;
    let by_key = entries
        .iter()
        .find(|entry| entry.action == "send.create")
        .expect("the send is audited");
    assert_eq!(by_key.actor_kind, "api_key");
    assert_eq!(by_key.actor_id, Some(view.id));
    assert_eq!(by_key.actor_name.as_deref(), Some("Practice system"));
    let made = entries
        .iter()
        .find(|entry| entry.action == "org.api_key_create")
        .expect("the key's making is audited");
    assert_eq!(made.actor_kind, "user");
    let target = made.target.as_deref().unwrap_or_default();
    assert!(target.contains("Practice system") && target.contains(&view.prefix));
    assert!(target.contains("sends:write sends:read"), "{target}");

    // The secret's text is nowhere on disk (only SHA-256 of its bytes is stored).
    let stored = super::sends::files_under(relay.dir.path());
    for file in stored {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !super::sends::contains(&bytes, &secret.as_bytes()[3..]),
            "the key's secret is in {}",
            file.display()
        );
    }
}

#[tokio::test]
async fn scopes_decide_and_a_key_never_does_what_needs_a_person() {
    let relay = relay();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    let (_, reader) = relay
        .make_key(&owner, "Reader", &[ApiScope::SendsRead], None)
        .await;
    let reader = owner.api_key(&reader);
    let body = wire::CreateSendRequest {
        files: vec![10],
        expires_in_seconds: DAY,
        max_opens: 1,
        recipient_email: None,
        invoice: None,
    };
    let refused = relay
        .call(
            Method::POST,
            "/api/sends",
            Some(&reader),
            Some(serde_json::to_value(&body).expect("JSON")),
        )
        .await;
    let refused = expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(message(&refused).contains("sends:write"), "{refused}");
    assert_eq!(
        relay.status_of(Method::GET, "/api/sends", &reader).await,
        StatusCode::OK
    );
    for path in [
        "/api/org/audit",
        "/api/requests",
        "/api/documents",
        "/api/org/payouts",
    ] {
        assert_eq!(
            relay.status_of(Method::GET, path, &reader).await,
            StatusCode::FORBIDDEN,
            "{path} without its scope"
        );
    }

    // Every scope, and still nothing that needs a person: members, policy, payouts, portal,
    // keys, the organisation, anyone's account.
    let (_, everything) = relay.make_key(&owner, "Everything", ALL, None).await;
    let everything = owner.api_key(&everything);
    for path in [
        "/api/org/audit",
        "/api/org/audit/checkpoint",
        "/api/requests",
        "/api/documents",
        "/api/sends",
    ] {
        let status = relay.status_of(Method::GET, path, &everything).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "{path}: {status}"
        );
    }
    let payouts = json(
        relay
            .call(Method::GET, "/api/org/payouts", Some(&everything), None)
            .await,
    )
    .await;
    let payouts: wire::PayoutReport = serde_json::from_value(payouts).expect("a report");
    assert_eq!(payouts.details, wire::PayoutDetails::default());
    for (method, path) in [
        (Method::GET, "/api/org/members"),
        (Method::GET, "/api/org/invites"),
        (Method::POST, "/api/org/invites"),
        (Method::GET, "/api/org/policy"),
        (Method::PUT, "/api/org/payouts/details"),
        (Method::GET, "/api/org/portal"),
        (Method::GET, "/api/org/api-keys"),
        (Method::POST, "/api/org/api-keys"),
        (Method::POST, "/api/org/close"),
        (Method::POST, "/api/org/transfer"),
        (Method::GET, "/api/me"),
        (Method::POST, "/api/auth/password"),
        (Method::POST, "/api/auth/mfa/setup"),
        (Method::POST, "/api/auth/logout-all"),
    ] {
        let body = matches!(method, Method::POST | Method::PUT).then(|| serde_json::json!({}));
        let answer = relay
            .call(method.clone(), path, Some(&everything), body)
            .await;
        let answer = expect_error(answer, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(
            message(&answer).contains("API key cannot"),
            "{method} {path}: {answer}"
        );
    }

    // A key's request is answered to the owner alone (a key holds no key pair).
    let target = account("provider@example.org", "a long enough password");
    relay.signup(&target, "provider").await;
    relay.verify("provider");
    let asked = relay
        .call(
            Method::POST,
            "/api/requests",
            Some(&everything),
            Some(
                serde_json::to_value(wire::CreateRequestRequest {
                    target: wire::RequestTarget::Organisation {
                        handle: "provider".to_owned(),
                    },
                    description: "Certificate of insurance".to_owned(),
                    due_at: relay.now() + 7 * DAY,
                    authorization: None,
                })
                .expect("JSON"),
            ),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let asked: wire::CreateRequestResponse =
        serde_json::from_value(json(asked).await).expect("a request");
    assert_eq!(asked.readers.len(), 1);
    assert_eq!(asked.readers[0].user, owner.session.user.id);
    let shown: wire::RequestView = serde_json::from_value(
        json(
            relay
                .call(
                    Method::GET,
                    &format!("/api/requests/{}", asked.id),
                    Some(&owner),
                    None,
                )
                .await,
        )
        .await,
    )
    .expect("a request view");
    assert_eq!(shown.requester, "Everything (API key)");
}

#[tokio::test]
async fn revoked_expired_and_suspended_keys_do_nothing_also_after_a_restart() {
    let relay = relay();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    let (revoked, revoked_secret) = relay.make_key(&owner, "Old", ALL, None).await;
    let (_, expiring) = relay
        .make_key(&owner, "Short", ALL, Some(relay.now() + 3600))
        .await;
    let (_, lasting) = relay.make_key(&owner, "Lasting", ALL, None).await;
    for secret in [&revoked_secret, &expiring, &lasting] {
        assert_eq!(
            relay
                .status_of(Method::GET, "/api/sends", &owner.api_key(secret))
                .await,
            StatusCode::OK
        );
    }
    let answer = relay
        .call(
            Method::POST,
            &format!("/api/org/api-keys/{}/revoke", revoked.id),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let again = relay
        .call(
            Method::POST,
            &format!("/api/org/api-keys/{}/revoke", revoked.id),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK, "revoking twice is harmless");
    let refused = relay
        .status_of(Method::GET, "/api/sends", &owner.api_key(&revoked_secret))
        .await;
    assert_eq!(refused, StatusCode::UNAUTHORIZED);

    let relay = relay.restart();
    let refused = relay
        .call(
            Method::GET,
            "/api/sends",
            Some(&owner.api_key(&revoked_secret)),
            None,
        )
        .await;
    let refused = expect_error(refused, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert!(message(&refused).contains("revoked"), "{refused}");
    relay.clock.advance(3600);
    let expired = relay
        .call(
            Method::GET,
            "/api/sends",
            Some(&owner.api_key(&expiring)),
            None,
        )
        .await;
    let expired = expect_error(expired, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert!(message(&expired).contains("expired"), "{expired}");

    let lasting = owner.api_key(&lasting);
    assert_eq!(
        relay.status_of(Method::GET, "/api/sends", &lasting).await,
        StatusCode::OK
    );
    let answer = execute(
        &relay.store,
        relay.now(),
        &AdminCommand::OrgSuspend {
            handle: "firm".to_owned(),
        },
    );
    assert!(answer.ok, "{}", answer.message);
    let suspended = relay
        .call(Method::GET, "/api/sends", Some(&lasting), None)
        .await;
    let suspended = expect_error(suspended, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(message(&suspended).contains("suspended"), "{suspended}");

    // Another organisation's owner cannot see or revoke this organisation's keys.
    let (_, stranger) = relay.sender("other@example.org", "other").await;
    let answer = relay
        .call(
            Method::POST,
            &format!("/api/org/api-keys/{}/revoke", revoked.id),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let theirs = json(
        relay
            .call(Method::GET, "/api/org/api-keys", Some(&stranger), None)
            .await,
    )
    .await;
    assert_eq!(theirs, serde_json::json!([]));
}

#[tokio::test]
async fn keys_are_bearer_only_need_no_csrf_and_a_cookie_beside_one_is_ignored() {
    let relay = relay();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    let (_, secret) = relay.make_key(&owner, "Script", ALL, None).await;

    // In the URL it is nothing: the request is simply not logged in.
    let answer = relay
        .call(
            Method::GET,
            &format!("/api/sends?api_key={secret}"),
            None,
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    // A POST with the key needs no CSRF token.
    let body = wire::CreateSendRequest {
        files: vec![10],
        expires_in_seconds: DAY,
        max_opens: 1,
        recipient_email: None,
        invoice: None,
    };
    let made = relay
        .call(
            Method::POST,
            "/api/sends",
            Some(&owner.api_key(&secret)),
            Some(serde_json::to_value(&body).expect("JSON")),
        )
        .await;
    assert_eq!(made.status(), StatusCode::OK);

    // A wrong key beside the owner's valid cookie is refused: the cookie is not looked at.
    let wrong = format!("sp_{}", shared::encoding::encode(&[7_u8; 32]));
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/sends")
        .header(header::COOKIE, &owner.cookie)
        .header(header::AUTHORIZATION, format!("Bearer {wrong}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        relay.send_request(request).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // And the owner's key-management page with a key beside the cookie is refused too.
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/org/api-keys")
        .header(header::COOKIE, &owner.cookie)
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        relay.send_request(request).await.status(),
        StatusCode::FORBIDDEN
    );
    // Malformed and misspelt keys get a clear 401.
    for presented in ["sp_", "sp_short", "Sp_abc", "sp_ with spaces"] {
        let request = Request::builder()
            .uri("/api/sends")
            .header(header::AUTHORIZATION, format!("Bearer {presented}"))
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            relay.send_request(request).await.status(),
            StatusCode::UNAUTHORIZED,
            "{presented}"
        );
    }
}

#[tokio::test]
async fn making_a_key_checks_what_is_asked() {
    let relay = relay();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    for (body, words) in [
        (
            serde_json::json!({ "name": "", "scopes": ["audit:read"] }),
            "name",
        ),
        (serde_json::json!({ "name": "x", "scopes": [] }), "scope"),
        (
            serde_json::json!({ "name": "x", "scopes": ["audit:read"], "expires_at": relay.now() }),
            "future",
        ),
    ] {
        let answer = relay
            .call(Method::POST, "/api/org/api-keys", Some(&owner), Some(body))
            .await;
        let answer = expect_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
        assert!(message(&answer).contains(words), "{answer}");
    }
    let answer = relay
        .call(
            Method::POST,
            "/api/org/api-keys",
            Some(&owner),
            Some(serde_json::json!({ "name": "x", "scopes": ["members:write"] })),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = Id::from_bytes([9; 16]);
    let answer = relay
        .call(
            Method::POST,
            &format!("/api/org/api-keys/{unknown}/revoke"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_three_hundred_requests_on_one_key_holds_its_rate() {
    let relay = relay_with(|config| {
        config.rate_limits.api_key = relay::config::RateLimit {
            per_hour: 1,
            burst: 40,
        };
    });
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    let (_, secret) = relay.make_key(&owner, "Runaway", ALL, None).await;
    let key = owner.api_key(&secret);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let router = relay.router.clone();
        let request = request(None, Method::GET, "/api/sends", Some(&key), None);
        calls.spawn(async move {
            tower::ServiceExt::oneshot(router, request)
                .await
                .map(|answer| answer.status())
        });
    }
    let mut ok = 0;
    let mut limited = 0;
    while let Some(status) = calls.join_next().await {
        match status.expect("joins").expect("infallible") {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, limited), (40, 260));
    // Another key of the same organisation has its own allowance, and sessions are not limited
    // by it.
    let (_, other) = relay.make_key(&owner, "Other", ALL, None).await;
    assert_eq!(
        relay
            .status_of(Method::GET, "/api/sends", &owner.api_key(&other))
            .await,
        StatusCode::OK
    );
    assert_eq!(
        relay.status_of(Method::GET, "/api/sends", &owner).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_key_never_does_more_than_its_maker_may_now() {
    let relay = relay();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    let token = relay.invite(&owner, "admin@example.org", "admin").await;
    let admin = login_from(
        relay
            .join(
                &account("admin@example.org", "a long enough password"),
                &token,
            )
            .await,
    )
    .await;

    // An admin cannot give a key the owner-only ledger.
    let body = wire::CreateApiKeyRequest {
        name: "Ledger".to_owned(),
        scopes: vec![ApiScope::LedgerRead],
        expires_at: None,
    };
    let refused = relay
        .call(
            Method::POST,
            "/api/org/api-keys",
            Some(&admin),
            Some(serde_json::to_value(&body).expect("JSON")),
        )
        .await;
    let refused = expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(message(&refused).contains("ledger:read"), "{refused}");

    let (_, secret) = relay
        .make_key(
            &admin,
            "Admin's script",
            &[ApiScope::AuditRead, ApiScope::SendsRead],
            None,
        )
        .await;
    let key = admin.api_key(&secret);
    assert_eq!(
        relay.status_of(Method::GET, "/api/org/audit", &key).await,
        StatusCode::OK
    );

    // Demoted to member, the maker's key loses the audit log (a member's role does not give it).
    let member_id = admin.session.user.id;
    let demoted = relay
        .call(
            Method::POST,
            &format!("/api/org/members/{member_id}/role"),
            Some(&owner),
            Some(serde_json::json!({ "role": "member" })),
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(
        relay.status_of(Method::GET, "/api/org/audit", &key).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        relay.status_of(Method::GET, "/api/sends", &key).await,
        StatusCode::OK
    );

    // Removed, the maker's keys do nothing.
    let removed = relay
        .call(
            Method::DELETE,
            &format!("/api/org/members/{member_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let refused = relay
        .call(Method::GET, "/api/sends", Some(&key), None)
        .await;
    let refused = expect_error(refused, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert!(
        message(&refused).contains("no longer in the organisation"),
        "{refused}"
    );
}
