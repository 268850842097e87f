//! Stripe, as far as the paywall needs it (PROTOCOL.md "Paywall"): checking a webhook's
//! `Stripe-Signature` (HMAC-SHA-256 of `t.` and the raw body under the endpoint secret, any
//! `v1=` matching in constant time, within the tolerance) before anything is parsed; the event
//! and object shapes the relay reads; and the two API calls it makes, creating a Checkout
//! Session and fetching one back to confirm a payment. It speaks Stripe's HTTP (form-encoded
//! requests, Bearer key, JSON answers) to a configurable base URL, so tests run a local
//! stand-in. It never sends Stripe anything about a document but the invoice's description.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::config::{Secret, StripeConfig};

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks `header` (`t=…,v1=…[,v1=…]`) against `payload` under `secret`; `now` and
/// `tolerance` in seconds. Returns the signed timestamp.
pub fn verify_signature(
    header: Option<&str>,
    payload: &[u8],
    secret: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // Checked: the timestamp is the sender's, and `now - timestamp` overflows for one near
    // `i64::MIN` (a panic in a debug build; in a release build it wrapped, and one exact value
    // passed as fresh). Too far to compute is stale.
    let fresh = now
        .checked_sub(timestamp)
        .and_then(i64::checked_abs)
        .is_some_and(|age| age <= tolerance);
    if !fresh {
        return Err(SignatureError::Stale);
    }
    let expected = sign(payload, secret, timestamp);
    // Every candidate is compared in full, so timing says nothing about which one matched.
    let matched = signatures
        .iter()
        .fold(subtle::Choice::from(0), |any, candidate| {
            any | expected.as_slice().ct_eq(candidate.as_slice())
        });
    if bool::from(matched) {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `HMAC-SHA-256(secret, "<timestamp>." ‖ payload)`, as Stripe signs (tests sign with it too).
pub fn sign(payload: &[u8], secret: &[u8], timestamp: i64) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

/// A webhook event, as far as the relay reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// A Checkout Session, as far as the relay reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    #[serde(default)]
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: String,
    #[serde(default)]
    pub amount_total: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A charge (the object of `charge.refunded`), as far as the relay reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    pub amount: u64,
    #[serde(default)]
    pub amount_refunded: u64,
    #[serde(default)]
    pub currency: String,
}

/// What a new Checkout Session is for.
#[derive(Debug, Clone)]
pub struct NewCheckout<'a> {
    pub invoice_id: &'a str,
    pub amount_minor: u64,
    /// Lowercase ISO code.
    pub currency: &'a str,
    pub description: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
    /// Same key, same session: a retried request does not make a second one.
    pub idempotency_key: &'a str,
}

/// Stripe's API with the relay's secret key.
#[derive(Clone)]
pub struct StripeApi {
    http: reqwest::Client,
    base: String,
    key: Secret,
}

impl std::fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeApi")
            .field("base", &self.base)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Stripe's error body, `{"error": {"message": …}}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
}

impl StripeApi {
    /// `None` when card payments are off.
    pub fn from_config(config: &StripeConfig) -> anyhow::Result<Option<Self>> {
        if !config.enabled() {
            return Ok(None);
        }
        anyhow::ensure!(
            config.api_base.starts_with("https://") || config.api_base.starts_with("http://"),
            "[stripe] api_base must be a URL, e.g. https://api.stripe.com"
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("sealpost-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("while building the HTTP client for Stripe")?;
        Ok(Some(Self {
            http,
            base: config.api_base.trim_end_matches('/').to_owned(),
            key: config.secret_key.clone(),
        }))
    }

    /// `POST /v1/checkout/sessions`: a one-item payment for the invoice, whose id goes in the
    /// session's and the payment's metadata.
    pub async fn create_checkout_session(
        &self,
        checkout: &NewCheckout<'_>,
    ) -> anyhow::Result<CheckoutSession> {
        let amount = checkout.amount_minor.to_string();
        let form: [(&str, &str); 11] = [
            ("mode", "payment"),
            ("success_url", checkout.success_url),
            ("cancel_url", checkout.cancel_url),
            ("client_reference_id", checkout.invoice_id),
            ("metadata[invoice_id]", checkout.invoice_id),
            (
                "payment_intent_data[metadata][invoice_id]",
                checkout.invoice_id,
            ),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", checkout.currency),
            ("line_items[0][price_data][unit_amount]", &amount),
            (
                "line_items[0][price_data][product_data][name]",
                checkout.description,
            ),
            ("payment_method_types[0]", "card"),
        ];
        let request = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.base))
            .bearer_auth(self.key.dangerously_expose())
            .header("Idempotency-Key", checkout.idempotency_key)
            .form(&form);
        self.call(request, "creating a Checkout Session").await
    }

    /// `GET /v1/checkout/sessions/{id}`: the session as Stripe has it now.
    pub async fn checkout_session(&self, id: &str) -> anyhow::Result<CheckoutSession> {
        anyhow::ensure!(
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "a Checkout Session id has only letters, digits and underscores"
        );
        let request = self
            .http
            .get(format!("{}/v1/checkout/sessions/{id}", self.base))
            .bearer_auth(self.key.dangerously_expose());
        self.call(request, "fetching a Checkout Session").await
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        let response = request
            .send()
            .await
            .with_context(|| format!("Stripe could not be reached while {what}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("Stripe's answer broke off while {what}"))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|body| body.error.message)
                .unwrap_or_default();
            anyhow::bail!("Stripe refused {what} (HTTP {status}): {message}");
        }
        serde_json::from_slice(&bytes)
            .with_context(|| format!("Stripe's answer to {what} is not what the relay expects"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";

    fn header(payload: &[u8], timestamp: i64) -> String {
        format!(
            "t={timestamp},v1={}",
            hex::encode(sign(payload, SECRET, timestamp))
        )
    }

    #[test]
    fn a_correct_signature_within_the_tolerance_verifies() {
        let payload = br#"{"id":"evt_1"}"#;
        let now = 1_700_000_000;
        assert_eq!(
            verify_signature(Some(&header(payload, now)), payload, SECRET, now, 300),
            Ok(now)
        );
        // Several v1 (a secret being rolled) and other schemes are fine, in any order.
        let mixed = format!(
            "t={now},v0=abcd,v1={},v1={}",
            hex::encode([0_u8; 32]),
            hex::encode(sign(payload, SECRET, now))
        );
        assert_eq!(
            verify_signature(Some(&mixed), payload, SECRET, now + 299, 300),
            Ok(now)
        );
    }

    #[test]
    fn forged_stale_malformed_and_missing_signatures_are_refused() {
        let payload = br#"{"id":"evt_1"}"#;
        let now = 1_700_000_000;
        let good = header(payload, now);
        assert_eq!(
            verify_signature(Some(&good), br#"{"id":"evt_2"}"#, SECRET, now, 300),
            Err(SignatureError::Mismatch),
            "another body"
        );
        assert_eq!(
            verify_signature(Some(&good), payload, b"whsec_other", now, 300),
            Err(SignatureError::Mismatch),
            "another secret"
        );
        assert_eq!(
            verify_signature(Some(&good), payload, SECRET, now + 301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(Some(&good), payload, SECRET, now - 301, 300),
            Err(SignatureError::Stale),
            "from the future"
        );
        let moved = good.replace(&format!("t={now}"), &format!("t={}", now + 1));
        assert_eq!(
            verify_signature(Some(&moved), payload, SECRET, now, 300),
            Err(SignatureError::Mismatch),
            "the timestamp is signed too"
        );
        // Timestamps whose distance from now overflows an i64 (found by the fuzz target
        // `stripe_signature`): stale, not a panic, not fresh by wrapping around.
        for far in [i64::MIN, now - i64::MAX - 1, i64::MAX] {
            assert_eq!(
                verify_signature(Some(&header(payload, far)), payload, SECRET, now, 300),
                Err(SignatureError::Stale),
                "{far}"
            );
        }
        for bad in ["", "t=abc,v1=00", &format!("t={now}"), "v1=00", "garbage"] {
            assert_eq!(
                verify_signature(Some(bad), payload, SECRET, now, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify_signature(None, payload, SECRET, now, 300),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn the_signature_matches_stripes_published_construction() {
        // HMAC-SHA256(key = "whsec_test_secret", message = "1700000000.{}"), computed with
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test_secret`.
        assert_eq!(
            hex::encode(sign(b"{}", SECRET, 1_700_000_000)),
            "ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3"
        );
    }
}
