//! Outgoing webhooks: an organisation's HTTPS endpoints hear of its events (links opened,
//! delivered or destroyed; documents arrived; requests fulfilled or overdue; invoices paid or
//! refunded). The audit log is the event source: a collector walks it from a cursor kept in
//! the store and turns each entry that is an event into one delivery per subscribed endpoint
//! (ids derived from endpoint and entry, so a crash between the two repeats nothing); a worker
//! attempts due deliveries, signed as Stripe signs (`Sealpost-Signature: t=…,v1=…`), and
//! retries failures with back-off for about a day. Bodies carry the event's type, time and
//! object id, never a secret, a name or content. Endpoints are checked against SSRF at
//! registration and again at every attempt: `https://` on public addresses only (unless the
//! operator allows otherwise), the addresses checked are the ones connected to, and redirects
//! are not followed. Delivery is at least once: a receiver drops repeats by the payload's `id`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use shared::ids::Id;
use shared::wire::{self, DeliveryState, DocumentKind, WebhookEvent};

use crate::audit::{AuditEntry, Outcome};
use crate::config::WebhooksConfig;
use crate::state::AppState;
use crate::store::{Store, WebhookDelivery, WebhookEndpoint};

/// Seconds after a failed attempt before the next: about a day in all, then it has failed.
const BACKOFF_SECONDS: [i64; 7] = [30, 120, 600, 1_800, 3_600, 3 * 3_600, 12 * 3_600];
/// Attempts before a delivery has failed (a replay starts again).
pub const MAX_ATTEMPTS: u32 = BACKOFF_SECONDS.len() as u32 + 1;
/// Audit entries read per collection.
const BATCH: usize = 500;
/// Attempts made at once.
const PARALLEL: usize = 8;
/// Finished deliveries are kept this long for the listing and replays.
const KEEP_SECONDS: i64 = 30 * 86_400;
/// How often the worker looks for events and due deliveries.
const TICK: Duration = Duration::from_secs(2);
/// How long a held delivery (its organisation suspended) waits before it is looked at again.
const HELD_SECONDS: i64 = 600;

/// Why an endpoint is refused (the words reach the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefused {
    #[error("the endpoint is not a valid URL")]
    Malformed,
    #[error("the endpoint must be an https:// URL")]
    NotHttps,
    #[error("the endpoint must not carry a user name or password")]
    Credentials,
    #[error("the endpoint's host name does not resolve")]
    Unresolved,
    #[error(
        "the endpoint resolves to a private, loopback or otherwise non-public address, which this relay does not call"
    )]
    NotPublic,
    #[error("the endpoint's port is not one this relay calls (443 or 8443)")]
    Port,
}

/// Ports a public endpoint may use (an endpoint on an allowed private address may use any).
const PUBLIC_PORTS: [u16; 2] = [443, 8443];

/// A checked endpoint: its URL and the addresses it may be reached at.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: reqwest::Url,
    host: String,
    addresses: Vec<SocketAddr>,
}

/// Checks `url` against `config`: scheme, no credentials, and every address its host resolves
/// to public (unless allowed). The answer pins those addresses for the attempt.
pub async fn check_target(url: &str, config: &WebhooksConfig) -> Result<Target, TargetRefused> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| TargetRefused::Malformed)?;
    match parsed.scheme() {
        "https" => {}
        "http" if config.allow_http => {}
        _ => return Err(TargetRefused::NotHttps),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetRefused::Credentials);
    }
    let host = parsed
        .host_str()
        .ok_or(TargetRefused::Malformed)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or(TargetRefused::Malformed)?;
    if !config.allow_private_addresses && !PUBLIC_PORTS.contains(&port) {
        return Err(TargetRefused::Port);
    }
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let addresses: Vec<SocketAddr> =
        tokio::time::timeout(Duration::from_secs(config.timeout_seconds.into()), lookup)
            .await
            .map_err(|_| TargetRefused::Unresolved)?
            .map_err(|_| TargetRefused::Unresolved)?
            .collect();
    if addresses.is_empty() {
        return Err(TargetRefused::Unresolved);
    }
    if !config.allow_private_addresses && addresses.iter().any(|address| !is_public(address.ip())) {
        return Err(TargetRefused::NotPublic);
    }
    Ok(Target {
        url: parsed,
        host,
        addresses,
    })
}

/// Whether `ip` is an address on the public internet (not loopback, private, link-local,
/// shared, reserved, documentation, multicast or unspecified; IPv4 inside IPv6 is judged as
/// IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 192 && b == 88 && v4.octets()[2] == 99)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            // NAT64 (well-known prefix) embeds an IPv4 address: judge that.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || (segments[0] == 0x2001 && segments[1] == 0) // Teredo: embeds IPv4
                || segments[0] == 0x2002 // 6to4: embeds IPv4
                || (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1) // local NAT64
                || segments[..4] == [0, 0, 0, 0] // IPv4-compatible and -translated forms
                || segments[..6] == [0, 0, 0, 0, 0, 0])
        }
    }
}

/// A new endpoint's signing secret: `whsec_` and 32 random bytes as base64url.
pub fn new_secret() -> String {
    let token = crate::tokens::mint();
    format!(
        "{}{}",
        wire::WEBHOOK_SECRET_PREFIX,
        token.text.dangerously_expose()
    )
}

/// The `Sealpost-Signature` value for `body` sent at `timestamp`: Stripe's scheme, HMAC-SHA-256
/// of `"<timestamp>.<body>"` under the endpoint's whole secret text.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length: this never fails, and a signature that cannot be made
    // would only be refused by the receiver.
    let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()) else {
        return format!("t={timestamp}");
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The events an audit entry is, as (organisation told, event, object).
pub fn events_of(store: &Store, entry: &AuditEntry) -> anyhow::Result<Vec<(Id, WebhookEvent, Id)>> {
    if entry.outcome != Outcome::Success {
        return Ok(Vec::new());
    }
    let (Some(org), Some(object)) = (
        entry.org,
        entry
            .target
            .as_deref()
            .and_then(|target| target.parse::<Id>().ok()),
    ) else {
        return Ok(Vec::new());
    };
    let single = |event| Ok(vec![(org, event, object)]);
    match entry.action.as_str() {
        "send.open" => single(WebhookEvent::LinkOpened),
        "send.receipt" => single(WebhookEvent::LinkDelivered),
        "send.destroy" => single(WebhookEvent::LinkDestroyed),
        "request.overdue" => single(WebhookEvent::RequestOverdue),
        "invoice.paid" | "invoice.mark_paid" => single(WebhookEvent::InvoicePaid),
        "invoice.refunded" | "invoice.partly_refunded" => single(WebhookEvent::InvoiceRefunded),
        "document.create" => {
            let Some(document) = store.document(object)? else {
                return Ok(Vec::new());
            };
            Ok(match document.kind {
                DocumentKind::Fulfilment => {
                    let mut events = vec![(document.org, WebhookEvent::DocumentArrived, object)];
                    if let Some(request) = document.request {
                        events.push((document.org, WebhookEvent::RequestFulfilled, request));
                    }
                    events
                }
                DocumentKind::Portal | DocumentKind::Transfer => {
                    vec![(document.org, WebhookEvent::DocumentArrived, object)]
                }
                DocumentKind::Authorization => document
                    .counterpart
                    .map(|receiver| vec![(receiver, WebhookEvent::DocumentArrived, object)])
                    .unwrap_or_default(),
            })
        }
        _ => Ok(Vec::new()),
    }
}

/// Turns the audit entries from the cursor (the next entry to read) on into deliveries; how
/// many were made. The first collection of a data directory starts after the log's last entry
/// (earlier events are not news).
pub fn collect(store: &Store) -> anyhow::Result<usize> {
    let Some(cursor) = store.webhook_cursor()? else {
        let next = store.audit_last()?.map_or(0, |entry| entry.seq + 1);
        store.set_webhook_cursor(next)?;
        return Ok(0);
    };
    let mut made = 0;
    let mut cursor = cursor;
    let mut endpoints_of = std::collections::HashMap::new();
    loop {
        let entries = store.audit_entries_from(cursor, BATCH)?;
        let Some(last) = entries.last().map(|entry| entry.seq) else {
            return Ok(made);
        };
        for entry in &entries {
            for (org, event, object) in events_of(store, entry)? {
                let endpoints = match endpoints_of.entry(org) {
                    std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(store.webhook_endpoints_of_org(org)?)
                    }
                };
                for endpoint in endpoints.iter() {
                    if !endpoint.events.contains(&event) {
                        continue;
                    }
                    let delivery = delivery_for(endpoint, entry, org, event, object)?;
                    if store.add_webhook_delivery(&delivery)? {
                        made += 1;
                    }
                }
            }
        }
        store.set_webhook_cursor(last + 1)?;
        cursor = last + 1;
    }
}

fn delivery_for(
    endpoint: &WebhookEndpoint,
    entry: &AuditEntry,
    org: Id,
    event: WebhookEvent,
    object: Id,
) -> anyhow::Result<WebhookDelivery> {
    let digest = Sha256::new()
        .chain_update(endpoint.id.as_bytes())
        .chain_update(entry.seq.to_be_bytes())
        .chain_update(event.as_str().as_bytes())
        .finalize();
    let mut id = [0_u8; 16];
    id.copy_from_slice(&digest[..16]);
    let id = Id::from_bytes(id);
    let payload = serde_json::to_string(&wire::WebhookPayload {
        id,
        event,
        created: entry.time,
        organisation: org,
        object,
    })?;
    Ok(WebhookDelivery {
        id,
        endpoint: endpoint.id,
        org,
        event,
        object,
        created_at: entry.time,
        payload,
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at: Some(entry.time),
        last_attempt_at: None,
        last_status: None,
        last_error: None,
    })
}

/// Attempts every delivery due at the relay's now, a few at a time; how many were attempted.
pub async fn deliver_due(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let mut due = Vec::new();
    for id in state.store.pending_webhook_deliveries()? {
        match state.store.webhook_delivery(id)? {
            Some(delivery) if delivery.state == DeliveryState::Pending => {
                if delivery.next_attempt_at.is_some_and(|at| at <= now) {
                    due.push(delivery);
                }
            }
            // A mark left by a crash, or a delivery removed meanwhile.
            _ => state.store.mark_webhook_pending(id, false)?,
        }
    }
    // `PARALLEL` at a time, each slot refilled as soon as its attempt ends, so one slow
    // endpoint holds one slot, not a whole round.
    let mut attempted = 0;
    let mut waiting = due.into_iter();
    let mut attempts = tokio::task::JoinSet::new();
    loop {
        while attempts.len() < PARALLEL {
            let Some(delivery) = waiting.next() else {
                break;
            };
            let (state, id) = (state.clone(), delivery.id);
            attempts.spawn(async move { attempt(&state, id, now).await });
        }
        let Some(result) = attempts.join_next().await else {
            return Ok(attempted);
        };
        match result {
            Ok(Ok(true)) => attempted += 1,
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = format!("{error:#}"), "a webhook attempt failed");
            }
            Err(error) => tracing::warn!(%error, "a webhook attempt panicked"),
        }
    }
}

/// One attempt of delivery `id` at `now`, if it is still due (taken with a compare-and-swap
/// that also leases it, so no second worker sends it meanwhile); whether it was attempted.
async fn attempt(state: &AppState, id: Id, now: i64) -> anyhow::Result<bool> {
    let config = &state.config.webhooks;
    // An organisation the operator suspended (or one closed) calls nobody: its deliveries are
    // held, without spending an attempt, and go out if it is verified again.
    if let Some(delivery) = state.store.webhook_delivery(id)?
        && state
            .store
            .org(delivery.org)?
            .is_none_or(|org| org.status != wire::OrgStatus::Verified)
    {
        state.store.update_webhook_delivery(id, |delivery| {
            if delivery.state == DeliveryState::Pending {
                delivery.next_attempt_at = Some(now + HELD_SECONDS);
                delivery.last_error =
                    Some("held: the organisation is not active on this relay".to_owned());
            }
        })?;
        return Ok(false);
    }
    let lease = now + i64::from(config.timeout_seconds) + 60;
    let Some((true, delivery)) = state.store.update_webhook_delivery(id, |delivery| {
        let due = delivery.state == DeliveryState::Pending
            && delivery.next_attempt_at.is_some_and(|at| at <= now);
        if due {
            delivery.attempts += 1;
            delivery.next_attempt_at = Some(lease);
            delivery.last_attempt_at = Some(now);
        }
        due
    })?
    else {
        return Ok(false);
    };
    let Some(endpoint) = state.store.webhook_endpoint(delivery.endpoint)? else {
        state.store.remove_webhook_delivery(id)?;
        return Ok(false);
    };
    // Signed with the time it is sent at, so a receiver's freshness check holds however long
    // it waited for a slot.
    let (status, error) = match send(config, &endpoint, &delivery, state.clock.now()).await {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (
            Some(status),
            Some(format!("the endpoint answered {status}")),
        ),
        Err(error) => (None, Some(error)),
    };
    let delivered = error.is_none();
    let finished = state.store.update_webhook_delivery(id, |delivery| {
        delivery.last_status = status;
        delivery.last_error = error.clone();
        if delivered {
            delivery.state = DeliveryState::Delivered;
            delivery.next_attempt_at = None;
        } else if delivery.attempts >= MAX_ATTEMPTS {
            delivery.state = DeliveryState::Failed;
            delivery.next_attempt_at = None;
        } else {
            let step = (delivery.attempts as usize).saturating_sub(1);
            let wait = BACKOFF_SECONDS[step.min(BACKOFF_SECONDS.len() - 1)];
            delivery.next_attempt_at = Some(now + wait);
        }
    })?;
    if finished.is_some_and(|(_, delivery)| delivery.state != DeliveryState::Pending) {
        state.store.mark_webhook_pending(id, false)?;
    }
    state
        .store
        .note_webhook_attempt(endpoint.id, now, status, error)?;
    Ok(true)
}

/// Sends one delivery; the HTTP status, or why there was none.
async fn send(
    config: &WebhooksConfig,
    endpoint: &WebhookEndpoint,
    delivery: &WebhookDelivery,
    now: i64,
) -> Result<u16, String> {
    let target = check_target(&endpoint.url, config)
        .await
        .map_err(|refused| refused.to_string())?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // No proxy from the environment: a proxy would resolve the host itself and undo the
        // pinning to the addresses just checked.
        .no_proxy()
        .timeout(Duration::from_secs(config.timeout_seconds.into()))
        .connect_timeout(Duration::from_secs(config.timeout_seconds.into()))
        .user_agent(concat!(
            "sealpost-relay/",
            env!("CARGO_PKG_VERSION"),
            " webhooks"
        ))
        .resolve_to_addrs(&target.host, &target.addresses)
        .https_only(!config.allow_http)
        .build()
        .map_err(|error| format!("the HTTP client could not be built: {error}"))?;
    let answer = client
        .post(target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            wire::WEBHOOK_SIGNATURE_HEADER,
            signature(&endpoint.secret, now, &delivery.payload),
        )
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|error| {
            if error.is_timeout() {
                "the endpoint did not answer in time".to_owned()
            } else if error.is_connect() {
                "the endpoint could not be reached".to_owned()
            } else {
                "the request to the endpoint failed".to_owned()
            }
        })?;
    Ok(answer.status().as_u16())
}

/// Queues delivery `id` of `org`'s endpoint `endpoint` again from its first attempt, now.
pub fn replay(
    store: &Store,
    org: Id,
    endpoint: Id,
    id: Id,
    now: i64,
) -> anyhow::Result<Option<WebhookDelivery>> {
    if store
        .webhook_delivery(id)?
        .is_none_or(|delivery| delivery.org != org || delivery.endpoint != endpoint)
    {
        return Ok(None);
    }
    store.mark_webhook_pending(id, true)?;
    Ok(store
        .update_webhook_delivery(id, |delivery| {
            delivery.state = DeliveryState::Pending;
            delivery.attempts = 0;
            delivery.next_attempt_at = Some(now);
        })?
        .map(|(_, delivery)| delivery))
}

/// Removes finished deliveries older than they are kept; how many.
pub fn prune(store: &Store, now: i64) -> anyhow::Result<usize> {
    let mut pruned = 0;
    for delivery in store.webhook_deliveries()? {
        if delivery.state != DeliveryState::Pending && now - delivery.created_at > KEEP_SECONDS {
            store.remove_webhook_delivery(delivery.id)?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

/// The worker: collects and attempts every `TICK`, prunes hourly, until the task is dropped.
pub async fn run(state: AppState) {
    let mut every = tokio::time::interval(TICK);
    let mut last_prune: Option<i64> = None;
    loop {
        every.tick().await;
        if let Err(error) = collect(&state.store) {
            tracing::warn!(
                error = format!("{error:#}"),
                "collecting webhook events failed"
            );
        }
        if let Err(error) = deliver_due(&state).await {
            tracing::warn!(error = format!("{error:#}"), "attempting webhooks failed");
        }
        let now = state.clock.now();
        if last_prune.is_none_or(|last| now - last >= 3_600) {
            last_prune = Some(now);
            if let Err(error) = prune(&state.store, now) {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "pruning webhook deliveries failed"
                );
            }
        }
    }
}

/// The endpoint as owners and admins see it.
pub fn view(endpoint: &WebhookEndpoint) -> wire::WebhookView {
    wire::WebhookView {
        id: endpoint.id,
        url: endpoint.url.clone(),
        events: endpoint.events.clone(),
        created_at: endpoint.created_at,
        created_by: endpoint.created_by,
        last_attempt_at: endpoint.last_attempt_at,
        last_status: endpoint.last_status,
        last_error: endpoint.last_error.clone(),
    }
}

/// A delivery as owners and admins see it.
pub fn delivery_view(delivery: &WebhookDelivery) -> wire::WebhookDeliveryView {
    wire::WebhookDeliveryView {
        id: delivery.id,
        event: delivery.event,
        object: delivery.object,
        created_at: delivery.created_at,
        state: delivery.state,
        attempts: delivery.attempts,
        last_attempt_at: delivery.last_attempt_at,
        last_status: delivery.last_status,
        last_error: delivery.last_error.clone(),
        next_attempt_at: delivery.next_attempt_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "ff02::1",
            "fec0::1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "::ffff:0:a00:1",
            "192.88.99.1",
        ] {
            let ip: IpAddr = private.parse().expect("an address");
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().expect("an address");
            assert!(is_public(ip), "{public} is public");
        }
    }

    #[test]
    fn the_signature_is_stripes_scheme() {
        // HMAC-SHA-256("whsec_test", "1800000000.{}"), computed independently with Python's hmac.
        assert_eq!(
            signature("whsec_test", 1_800_000_000, "{}"),
            "t=1800000000,v1=482e6337ac5272392d375c6fdc4d52a7e615dc2facedab0ffe155ddfd6a56e66"
        );
    }

    #[tokio::test]
    async fn endpoints_are_checked_against_ssrf() {
        let strict = WebhooksConfig::default();
        for (url, refused) in [
            ("http://example.com/hook", TargetRefused::NotHttps),
            ("ftp://example.com/hook", TargetRefused::NotHttps),
            (
                "https://user:pw@example.com/hook",
                TargetRefused::Credentials,
            ),
            ("https://127.0.0.1/hook", TargetRefused::NotPublic),
            ("https://[::1]:8443/hook", TargetRefused::NotPublic),
            ("https://10.0.0.5/hook", TargetRefused::NotPublic),
            (
                "https://169.254.169.254/latest/meta-data",
                TargetRefused::NotPublic,
            ),
            ("https://localhost/hook", TargetRefused::NotPublic),
            ("https://93.184.216.34:22/hook", TargetRefused::Port),
            ("not a url", TargetRefused::Malformed),
        ] {
            assert_eq!(
                check_target(url, &strict).await.err(),
                Some(refused),
                "{url}"
            );
        }
        let open = WebhooksConfig {
            allow_private_addresses: true,
            allow_http: true,
            ..WebhooksConfig::default()
        };
        assert!(check_target("http://127.0.0.1:9/hook", &open).await.is_ok());
        assert!(
            check_target("https://93.184.216.34:8443/hook", &strict)
                .await
                .is_ok()
        );
        assert!(
            check_target("https://93.184.216.34/hook", &strict)
                .await
                .is_ok()
        );
    }
}
