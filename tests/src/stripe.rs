//! A local stand-in for Stripe, for the paywall's tests: a real HTTP server on loopback that
//! speaks the part of Stripe's API the relay calls (`POST /v1/checkout/sessions` with a
//! form-encoded body and a Bearer secret key, `GET /v1/checkout/sessions/{id}`, Stripe's JSON
//! error bodies, idempotency keys), serves a minimal hosted checkout page that pays and
//! redirects back to the session's `success_url`, and delivers webhook events signed exactly as
//! Stripe signs them (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA-256 of "t." ‖ body>`).
//! Tests also build, sign, replay, reorder and forge events through it. It records every
//! request it receives, so a test can show it never saw a link secret or an OTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The keys the stand-in expects and signs with.
pub const SECRET_KEY: &str = "sk_test_sealpost_standin";
pub const WEBHOOK_SECRET: &str = "whsec_sealpost_standin";

/// A running stand-in. Dropping it stops the server.
#[derive(Debug)]
pub struct StripeStandIn {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Inner {
    base: String,
    sessions: BTreeMap<String, Value>,
    idempotency: HashMap<String, String>,
    /// Where webhooks go; `None` until `deliver_to` is called.
    webhook_url: Option<String>,
    /// Deliver `checkout.session.completed` by itself after a payment on the page.
    auto_deliver: bool,
    /// Every request received: method, path and body.
    requests: Vec<String>,
    counter: u64,
}

/// What the relay answered to one delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub status: u16,
    pub body: String,
}

impl StripeStandIn {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("while binding the Stripe stand-in")?;
        let url = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Mutex::new(Inner {
            base: url.clone(),
            auto_deliver: true,
            ..Inner::default()
        }));
        let http = reqwest::Client::new();
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/pay/{id}", get(checkout_page).post(pay_on_page))
            .with_state(Shared {
                inner: inner.clone(),
                http: http.clone(),
            });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            inner,
            http,
            task,
        })
    }

    /// Points a relay's configuration at this stand-in.
    pub fn configure(&self, config: &mut relay::Config) {
        config.stripe.secret_key = relay::config::Secret::new(SECRET_KEY.to_owned());
        config.stripe.webhook_secret = relay::config::Secret::new(WEBHOOK_SECRET.to_owned());
        config.stripe.api_base = self.url.clone();
    }

    /// Sends webhooks to `relay_url`'s endpoint from now on.
    pub fn deliver_to(&self, relay_url: &str) {
        self.lock().webhook_url = Some(format!("{relay_url}/api/stripe/webhook"));
    }

    /// Whether paying on the page delivers `checkout.session.completed` by itself.
    pub fn set_auto_deliver(&self, on: bool) {
        self.lock().auto_deliver = on;
    }

    /// A Checkout Session as the API would answer it.
    pub fn session(&self, id: &str) -> Option<Value> {
        self.lock().sessions.get(id).cloned()
    }

    /// The most recently created session's id.
    pub fn last_session_id(&self) -> Option<String> {
        let inner = self.lock();
        inner
            .sessions
            .values()
            .max_by_key(|session| session["created"].as_i64().unwrap_or(0))
            .and_then(|session| session["id"].as_str().map(str::to_owned))
    }

    /// How many sessions were created.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Every request received so far, as `METHOD path body` lines.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Pays a session as the hosted page would (card: paid at once; `debit`: settles later),
    /// without delivering anything; returns the `checkout.session.completed` event.
    pub fn pay(&self, id: &str, debit: bool) -> anyhow::Result<String> {
        pay_session(&mut self.lock(), id, debit)
    }

    /// Settles a debit payment; returns the `async_payment_succeeded` or `_failed` event.
    pub fn settle(&self, id: &str, succeeded: bool) -> anyhow::Result<String> {
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(id).context("no such session")?;
        let kind = if succeeded {
            session["payment_status"] = json!("paid");
            "checkout.session.async_payment_succeeded"
        } else {
            "checkout.session.async_payment_failed"
        };
        let object = session.clone();
        Ok(inner.event(kind, object))
    }

    /// Refunds `amount` more of a paid session's charge; returns the `charge.refunded`
    /// event (which, like Stripe's, carries the running total refunded).
    pub fn refund(&self, id: &str, amount: u64) -> anyhow::Result<String> {
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(id).context("no such session")?;
        let total = session["amount_total"].as_u64().context("an amount")?;
        let refunded = (session["amount_refunded"].as_u64().unwrap_or(0) + amount).min(total);
        session["amount_refunded"] = json!(refunded);
        let charge = json!({
            "id": session["latest_charge"],
            "object": "charge",
            "amount": total,
            "amount_refunded": refunded,
            "currency": session["currency"],
            "payment_intent": session["payment_intent"],
            "refunded": refunded == total,
            "metadata": session["metadata"],
        });
        Ok(inner.event("charge.refunded", charge))
    }

    /// An event of any type around `object`, with a fresh id.
    pub fn event(&self, kind: &str, object: Value) -> String {
        self.lock().event(kind, object)
    }

    /// Delivers `payload` signed now.
    pub async fn deliver(&self, payload: &str) -> anyhow::Result<Delivery> {
        let header = signature_header(payload, now());
        self.deliver_with(payload, Some(&header)).await
    }

    /// Delivers `payload` with the given `Stripe-Signature` header (or none).
    pub async fn deliver_with(
        &self,
        payload: &str,
        signature: Option<&str>,
    ) -> anyhow::Result<Delivery> {
        let url = self
            .lock()
            .webhook_url
            .clone()
            .context("call deliver_to first")?;
        deliver(&self.http, &url, payload, signature).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for StripeStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `t=<timestamp>,v1=<signature>` for `payload`, as Stripe writes it.
pub fn signature_header(payload: &str, timestamp: i64) -> String {
    let signature = relay::stripe::sign(payload.as_bytes(), WEBHOOK_SECRET.as_bytes(), timestamp);
    format!("t={timestamp},v1={}", hex::encode(signature))
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(0))
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    http: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_test_{:06}{:08x}", self.counter, rand_suffix())
    }

    fn event(&mut self, kind: &str, object: Value) -> String {
        let id = self.next("evt");
        json!({
            "id": id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": now(),
            "livemode": false,
            "pending_webhooks": 1,
            "type": kind,
            "data": { "object": object },
        })
        .to_string()
    }
}

fn rand_suffix() -> u32 {
    let mut bytes = [0_u8; 4];
    rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut bytes);
    u32::from_be_bytes(bytes)
}

fn stripe_error(status: StatusCode, message: &str, param: Option<&str>) -> Response {
    let body = json!({
        "error": { "type": "invalid_request_error", "message": message, "param": param }
    });
    (status, axum::Json(body)).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    value == format!("Bearer {SECRET_KEY}")
}

async fn create_session(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    shared
        .lock()
        .requests
        .push(format!("POST /v1/checkout/sessions {text}"));
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided", None);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    for required in [
        "mode",
        "success_url",
        "cancel_url",
        "line_items[0][price_data][currency]",
        "line_items[0][price_data][unit_amount]",
        "line_items[0][price_data][product_data][name]",
        "line_items[0][quantity]",
    ] {
        if form.get(required).is_none_or(String::is_empty) {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                &format!("Missing required param: {required}."),
                Some(required),
            );
        }
    }
    if form.get("mode").map(String::as_str) != Some("payment") {
        return stripe_error(StatusCode::BAD_REQUEST, "Invalid mode", Some("mode"));
    }
    let Some(amount) = form
        .get("line_items[0][price_data][unit_amount]")
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|amount| *amount > 0)
    else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "Invalid integer",
            Some("line_items[0][price_data][unit_amount]"),
        );
    };
    let metadata: BTreeMap<String, String> = form
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|name| (name.to_owned(), value.clone()))
        })
        .collect();
    let mut inner = shared.lock();
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Some(existing) = key
        .as_ref()
        .and_then(|key| inner.idempotency.get(key))
        .and_then(|id| inner.sessions.get(id))
    {
        return axum::Json(existing.clone()).into_response();
    }
    let id = inner.next("cs");
    let created = now();
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": amount,
        "currency": form["line_items[0][price_data][currency]"],
        "client_reference_id": form.get("client_reference_id"),
        "metadata": metadata,
        "success_url": form["success_url"],
        "cancel_url": form["cancel_url"],
        "description": form["line_items[0][price_data][product_data][name]"],
        "payment_intent": null,
        "created": created,
        "expires_at": created + 86_400,
        "url": format!("{}/pay/{id}", inner.base),
    });
    inner.sessions.insert(id.clone(), session.clone());
    if let Some(key) = key {
        inner.idempotency.insert(key, id);
    }
    axum::Json(session).into_response()
}

async fn get_session(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut inner = shared.lock();
    inner
        .requests
        .push(format!("GET /v1/checkout/sessions/{id}"));
    if !authorized(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided", None);
    }
    match inner.sessions.get(&id) {
        Some(session) => axum::Json(session.clone()).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            &format!("No such checkout.session: '{id}'"),
            Some("id"),
        ),
    }
}

/// The hosted checkout page: what is paid for, and a button that pays.
async fn checkout_page(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let mut inner = shared.lock();
    inner.requests.push(format!("GET /pay/{id}"));
    let Some(session) = inner.sessions.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such checkout").into_response();
    };
    let description = html_escape(session["description"].as_str().unwrap_or(""));
    let amount = session["amount_total"].as_u64().unwrap_or(0);
    let currency = html_escape(session["currency"].as_str().unwrap_or(""));
    let cancel = html_escape(session["cancel_url"].as_str().unwrap_or("/"));
    Html(format!(
        "<!doctype html><html><head><title>Stand-in checkout</title></head><body>\
         <h1>Pay {description}</h1><p data-testid=amount>{amount} {currency} (minor units)</p>\
         <form method=post action=/pay/{id}><button type=submit name=method value=card>Pay</button>\
         <button type=submit name=method value=debit>Pay by bank debit</button></form>\
         <a href=\"{cancel}\">Cancel</a></body></html>"
    ))
    .into_response()
}

/// Pays the session, answers with the redirect back to `success_url`, and (unless turned off)
/// delivers `checkout.session.completed` a moment later, as Stripe does, asynchronously.
async fn pay_on_page(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let debit = String::from_utf8_lossy(&body).contains("method=debit");
    let (event, success_url, webhook_url) = {
        let mut inner = shared.lock();
        inner.requests.push(format!("POST /pay/{id}"));
        let event = match pay_session(&mut inner, &id, debit) {
            Ok(event) => event,
            Err(error) => return (StatusCode::CONFLICT, error.to_string()).into_response(),
        };
        let success_url = inner.sessions[&id]["success_url"]
            .as_str()
            .unwrap_or("/")
            .replace("{CHECKOUT_SESSION_ID}", &id);
        let webhook_url = inner.webhook_url.clone().filter(|_| inner.auto_deliver);
        (event, success_url, webhook_url)
    };
    if let Some(url) = webhook_url {
        let http = shared.http.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let header = signature_header(&event, now());
            let _ = deliver(&http, &url, &event, Some(&header)).await;
        });
    }
    Redirect::to(&success_url).into_response()
}

fn pay_session(inner: &mut Inner, id: &str, debit: bool) -> anyhow::Result<String> {
    let payment_intent = inner.next("pi");
    let charge = inner.next("ch");
    let session = inner.sessions.get_mut(id).context("no such session")?;
    anyhow::ensure!(session["status"] == "open", "this session is not open");
    session["status"] = json!("complete");
    session["payment_status"] = json!(if debit { "unpaid" } else { "paid" });
    session["payment_intent"] = json!(payment_intent);
    session["latest_charge"] = json!(charge);
    let object = session.clone();
    Ok(inner.event("checkout.session.completed", object))
}

async fn deliver(
    http: &reqwest::Client,
    url: &str,
    payload: &str,
    signature: Option<&str>,
) -> anyhow::Result<Delivery> {
    let mut request = http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(
            header::USER_AGENT,
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .body(payload.to_owned());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.send().await.context("while delivering a webhook")?;
    Ok(Delivery {
        status: response.status().as_u16(),
        body: response.text().await.unwrap_or_default(),
    })
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
