//! Outgoing webhooks against a real HTTP receiver on a socket: an owner registers an endpoint
//! (secret shown once), a link is opened, and the receiver gets `link.opened` signed as Stripe
//! signs (checked here with an independent HMAC), with no name, address or secret in the body;
//! a 500 is retried after its back-off with the same body, a redirect is not followed, a
//! delivery is replayed by hand, pending deliveries survive a restart; endpoints on loopback or
//! over plain HTTP are refused unless the operator allows them, and keys cannot manage them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use shared::wire::{self, DeliveryState, WebhookEvent};

use super::sends::{DAY, bundle, wrong_proof};
use super::support::*;

/// A receiver: what it got, and the statuses it answers in turn (then 200).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> (Receiver, String) {
        let receiver = Receiver::default();
        receiver
            .answers
            .lock()
            .expect("lock")
            .extend(answers.iter().copied());
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |axum::extract::State(receiver): axum::extract::State<Receiver>,
                     headers: HeaderMap,
                     body: String| async move {
                        receiver.got.lock().expect("lock").push((headers, body));
                        let status = receiver
                            .answers
                            .lock()
                            .expect("lock")
                            .pop_front()
                            .unwrap_or(200);
                        let mut answer = axum::response::Response::new(axum::body::Body::empty());
                        *answer.status_mut() = StatusCode::from_u16(status).expect("a status");
                        answer.headers_mut().insert(
                            "location",
                            "http://127.0.0.1:9/elsewhere".parse().expect("a header"),
                        );
                        answer
                    },
                ),
            )
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn got(&self) -> Vec<(HeaderMap, String)> {
        self.got.lock().expect("lock").clone()
    }
}

fn permissive() -> Relay {
    relay_with(|config| {
        config.webhooks.allow_private_addresses = true;
        config.webhooks.allow_http = true;
    })
}

impl Relay {
    fn state(&self) -> relay::AppState {
        relay::AppState::with_clock(self.config.clone(), self.store.clone(), self.time.clone())
    }

    async fn register(
        &self,
        login: &Login,
        url: &str,
        events: &[WebhookEvent],
    ) -> wire::CreateWebhookResponse {
        let answer = self
            .call(
                Method::POST,
                "/api/org/webhooks",
                Some(login),
                Some(serde_json::json!({ "url": url, "events": events })),
            )
            .await;
        let status = answer.status();
        let body = json(answer).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).expect("an endpoint")
    }

    /// What the worker does in one tick: collect the events, attempt what is due.
    async fn tick(&self) -> usize {
        relay::webhooks::collect(&self.store).expect("collects");
        relay::webhooks::deliver_due(&self.state())
            .await
            .expect("delivers")
    }

    async fn deliveries(
        &self,
        login: &Login,
        endpoint: shared::ids::Id,
    ) -> Vec<wire::WebhookDeliveryView> {
        let answer = self
            .call(
                Method::GET,
                &format!("/api/org/webhooks/{endpoint}/deliveries"),
                Some(login),
                None,
            )
            .await;
        assert_eq!(answer.status(), StatusCode::OK);
        serde_json::from_value(json(answer).await).expect("deliveries")
    }
}

/// Checks `Sealpost-Signature` over `body` with `secret` independently; the timestamp.
fn verify(headers: &HeaderMap, body: &str, secret: &str) -> i64 {
    let header = headers["sealpost-signature"].to_str().expect("ascii");
    let (t, v1) = header
        .split_once(",v1=")
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
        .expect("t=…,v1=…");
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("a key");
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).expect("hex"))
        .expect("the signature verifies");
    t.parse().expect("a timestamp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opened_link_is_signed_retried_replayed_and_survives_a_restart() {
    let relay = permissive();
    let (account, owner) = relay.sender("owner@example.org", "firm").await;
    let (receiver, url) = Receiver::start(&[500]).await;
    relay.tick().await; // the worker's first tick, at start
    let made = relay
        .register(
            &owner,
            &url,
            &[WebhookEvent::LinkOpened, WebhookEvent::LinkDestroyed],
        )
        .await;
    let secret = made.secret.dangerously_expose().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = json(
        relay
            .call(Method::GET, "/api/org/webhooks", Some(&owner), None)
            .await,
    )
    .await;
    assert!(
        !listed.to_string().contains(&secret),
        "the listing never shows the secret"
    );

    let sent = bundle(&[100]);
    let link = relay.send(&owner, &sent, 1, 7 * DAY).await;
    relay.open_ok(&link).await;

    // First attempt: the receiver answers 500; nothing is due again before the back-off.
    assert_eq!(relay.tick().await, 1);
    assert_eq!(relay.tick().await, 0);
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    assert_eq!(verify(headers, body, &secret), relay.now());
    assert_eq!(headers["content-type"], "application/json");
    let payload: wire::WebhookPayload = serde_json::from_str(body).expect("a payload");
    assert_eq!(payload.event, WebhookEvent::LinkOpened);
    assert_eq!(payload.object, link.id);
    assert_eq!(payload.organisation, owner.session.organisation.id);
    for private in [
        "owner@example.org",
        "client@example.org",
        "Firm",
        &link.otp,
        "Ada",
    ] {
        assert!(!body.contains(private), "{private} in {body}");
    }
    let shown = relay.deliveries(&owner, made.endpoint.id).await;
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].state, DeliveryState::Pending);
    assert_eq!(shown[0].last_status, Some(500));
    assert_eq!(shown[0].next_attempt_at, Some(relay.now() + 30));

    // Pending deliveries are on disk: a restart keeps them.
    let relay = relay.restart();
    relay.clock.advance(30);
    assert_eq!(relay.tick().await, 1);
    let got = receiver.got();
    let owner = relay.log_in(&account).await;
    assert_eq!(
        got.len(),
        2,
        "{:?}",
        relay.deliveries(&owner, made.endpoint.id).await
    );
    assert_eq!(got[1].1, got[0].1, "a retry sends the same body");
    verify(&got[1].0, &got[1].1, &secret);
    let shown = relay.deliveries(&owner, made.endpoint.id).await;
    assert_eq!(shown[0].state, DeliveryState::Delivered);
    assert_eq!(shown[0].attempts, 2);
    assert_eq!(
        relay.store.pending_webhook_deliveries().expect("marks"),
        [],
        "the worker reads only what is pending"
    );
    let endpoints: Vec<wire::WebhookView> = serde_json::from_value(
        json(
            relay
                .call(Method::GET, "/api/org/webhooks", Some(&owner), None)
                .await,
        )
        .await,
    )
    .expect("endpoints");
    assert_eq!(endpoints[0].last_status, Some(200));

    // Replayed by hand: the same body again, with a fresh signature.
    let replayed = relay
        .call(
            Method::POST,
            &format!(
                "/api/org/webhooks/{}/deliveries/{}/replay",
                made.endpoint.id, shown[0].id
            ),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(replayed.status(), StatusCode::OK);
    assert_eq!(
        relay.store.pending_webhook_deliveries().expect("marks"),
        [shown[0].id]
    );
    relay.clock.advance(5);
    assert_eq!(relay.tick().await, 1);
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].1, got[0].1);
    assert_eq!(verify(&got[2].0, &got[2].1, &secret), relay.now());

    // The audit log has the registration and the replay.
    let log = json(
        relay
            .call(Method::GET, "/api/org/audit", Some(&owner), None)
            .await,
    )
    .await;
    let actions: Vec<&str> = log
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert!(actions.contains(&"org.webhook_create") && actions.contains(&"org.webhook_replay"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_until_they_fail_and_redirects_are_not_followed() {
    let relay = permissive();
    let (account, owner) = relay.sender("owner@example.org", "firm").await;
    let (receiver, url) = Receiver::start(&[302; 20]).await;
    relay.tick().await;
    let made = relay
        .register(&owner, &url, &[WebhookEvent::LinkDestroyed])
        .await;
    let sent = bundle(&[10]);
    let link = relay.send(&owner, &sent, 1, 7 * DAY).await;
    for _ in 0..5 {
        let answer = relay.open(None, link.id, &wrong_proof()).await;
        assert!(answer.status().is_client_error());
    }
    let mut waits = Vec::new();
    for _ in 0..relay::webhooks::MAX_ATTEMPTS {
        assert_eq!(relay.tick().await, 1);
        let stored = relay
            .store
            .webhook_deliveries_of(made.endpoint.id)
            .expect("deliveries");
        assert_eq!(stored.len(), 1);
        assert_eq!(
            stored[0].last_status,
            Some(302),
            "a redirect is not followed"
        );
        assert_eq!(stored[0].event, WebhookEvent::LinkDestroyed);
        if let Some(next) = stored[0].next_attempt_at {
            waits.push(next - relay.now());
            relay.clock.advance(next - relay.now());
        }
    }
    let owner = relay.log_in(&account).await;
    assert_eq!(waits, [30, 120, 600, 1_800, 3_600, 10_800, 43_200]);
    let shown = relay.deliveries(&owner, made.endpoint.id).await;
    assert_eq!(shown[0].state, DeliveryState::Failed);
    assert_eq!(shown[0].attempts, relay::webhooks::MAX_ATTEMPTS);
    relay.clock.advance(DAY);
    assert_eq!(
        relay.tick().await,
        0,
        "a failed delivery waits for a replay"
    );
    assert_eq!(receiver.got().len(), relay::webhooks::MAX_ATTEMPTS as usize);
    // Only what the endpoint subscribed to: the opening attempts were not sent.
    assert!(
        receiver
            .got()
            .iter()
            .all(|(_, body)| body.contains("link.destroyed"))
    );
}

#[tokio::test]
async fn a_suspended_organisation_calls_nobody_until_it_is_reinstated() {
    use relay::admin::{AdminCommand, execute};
    let relay = permissive();
    let (_account, owner) = relay.sender("owner@example.org", "firm").await;
    let (receiver, url) = Receiver::start(&[204; 4]).await;
    relay.tick().await;
    let made = relay
        .register(&owner, &url, &[WebhookEvent::LinkDestroyed])
        .await;
    let link = relay.send(&owner, &bundle(&[10]), 1, 7 * DAY).await;
    for _ in 0..5 {
        let answer = relay.open(None, link.id, &wrong_proof()).await;
        assert!(answer.status().is_client_error());
    }
    let suspend = execute(
        &relay.store,
        relay.now(),
        &AdminCommand::OrgSuspend {
            handle: "firm".to_owned(),
        },
    );
    assert!(suspend.ok, "{}", suspend.message);
    for _ in 0..3 {
        assert_eq!(relay.tick().await, 0, "held, not attempted");
        relay.clock.advance(3_600);
    }
    assert!(
        receiver.got().is_empty(),
        "a suspended organisation calls nobody"
    );
    let held = relay
        .store
        .webhook_deliveries_of(made.endpoint.id)
        .expect("deliveries");
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].state, held[0].attempts),
        (DeliveryState::Pending, 0),
        "holding spends no attempt"
    );
    let reinstate = execute(
        &relay.store,
        relay.now(),
        &AdminCommand::OrgReinstate {
            handle: "firm".to_owned(),
        },
    );
    assert!(reinstate.ok, "{}", reinstate.message);
    assert_eq!(
        relay.tick().await,
        1,
        "it goes out once the organisation is back"
    );
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn endpoints_must_be_public_https_and_only_people_manage_them() {
    let relay = relay();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    for (url, words) in [
        ("http://127.0.0.1:9/hook", "https://"),
        ("https://127.0.0.1/hook", "non-public"),
        ("https://93.184.216.34:6379/hook", "port"),
        ("https://10.0.0.7/hook", "non-public"),
        ("https://[::1]/hook", "non-public"),
        ("https://169.254.169.254/latest", "non-public"),
        ("https://someone:pw@example.org/hook", "user name"),
        ("hook", "not a valid URL"),
    ] {
        let answer = relay
            .call(
                Method::POST,
                "/api/org/webhooks",
                Some(&owner),
                Some(serde_json::json!({ "url": url, "events": ["link.opened"] })),
            )
            .await;
        let answer = expect_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;
        assert!(message(&answer).contains(words), "{url}: {answer}");
    }
    let answer = relay
        .call(
            Method::POST,
            "/api/org/webhooks",
            Some(&owner),
            Some(serde_json::json!({ "url": "https://93.184.216.34/hook", "events": [] })),
        )
        .await;
    expect_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid").await;

    // An API key, whatever its scopes, manages no webhook.
    let body = wire::CreateApiKeyRequest {
        name: "Everything".to_owned(),
        scopes: wire::ApiScope::ALL.to_vec(),
        expires_at: None,
    };
    let made = relay
        .call(
            Method::POST,
            "/api/org/api-keys",
            Some(&owner),
            Some(serde_json::to_value(&body).expect("JSON")),
        )
        .await;
    let made: wire::CreateApiKeyResponse = serde_json::from_value(json(made).await).expect("a key");
    let key = owner.api_key(made.secret.dangerously_expose());
    let answer = relay
        .call(Method::GET, "/api/org/webhooks", Some(&key), None)
        .await;
    expect_error(answer, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_requests_and_paid_invoices_are_reported() {
    let relay = permissive();
    let (_, owner) = relay.sender("owner@example.org", "firm").await;
    relay.sender("provider@example.org", "provider").await;
    let (receiver, url) = Receiver::start(&[]).await;
    relay.tick().await;
    let made = relay
        .register(
            &owner,
            &url,
            &[WebhookEvent::RequestOverdue, WebhookEvent::InvoicePaid],
        )
        .await;

    // A request past its due date is reported once (after the invoice below: the day that
    // passes ends the owner's session).
    let asked = relay
        .call(
            Method::POST,
            "/api/requests",
            Some(&owner),
            Some(
                serde_json::to_value(wire::CreateRequestRequest {
                    target: wire::RequestTarget::Organisation {
                        handle: "provider".to_owned(),
                    },
                    description: "Certificate of insurance".to_owned(),
                    due_at: relay.now() + DAY,
                    authorization: None,
                })
                .expect("JSON"),
            ),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let asked: wire::CreateRequestResponse =
        serde_json::from_value(json(asked).await).expect("a request");
    // An invoice marked paid by hand is reported.
    let created = relay
        .call(
            Method::POST,
            "/api/sends",
            Some(&owner),
            Some(
                serde_json::to_value(wire::CreateSendRequest {
                    files: vec![10],
                    expires_in_seconds: 7 * DAY,
                    max_opens: 1,
                    recipient_email: None,
                    invoice: Some(wire::InvoiceTerms {
                        amount_minor: 12_050,
                        currency: "EUR".parse().expect("a currency"),
                        description: "Records fee".to_owned(),
                    }),
                })
                .expect("JSON"),
            ),
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let sends: Vec<wire::SendView> = serde_json::from_value(
        json(
            relay
                .call(Method::GET, "/api/sends", Some(&owner), None)
                .await,
        )
        .await,
    )
    .expect("sends");
    let invoice = sends[0].invoice.as_ref().expect("an invoice").id;
    let paid = relay
        .call(
            Method::POST,
            &format!("/api/invoices/{invoice}/mark-paid"),
            Some(&owner),
            Some(serde_json::json!({ "reference": "bank transfer 4711" })),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);

    assert_eq!(
        relay::retention::note_overdue_requests(&relay.store, relay.now()).expect("notes"),
        0
    );
    relay.clock.advance(DAY + 1);
    for expected in [1, 0] {
        assert_eq!(
            relay::retention::note_overdue_requests(&relay.store, relay.now()).expect("notes"),
            expected
        );
    }

    assert_eq!(relay.tick().await, 2);
    let got: Vec<wire::WebhookPayload> = receiver
        .got()
        .iter()
        .map(|(_, body)| serde_json::from_str(body).expect("a payload"))
        .collect();
    let mut seen: Vec<(WebhookEvent, shared::ids::Id)> = got
        .iter()
        .map(|payload| (payload.event, payload.object))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (WebhookEvent::RequestOverdue, asked.id),
            (WebhookEvent::InvoicePaid, invoice)
        ]
    );
    assert!(
        receiver
            .got()
            .iter()
            .all(|(_, body)| !body.contains("bank transfer") && !body.contains("Records fee"))
    );
    let _ = made;
}
