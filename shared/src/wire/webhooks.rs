//! Wire types of outgoing webhooks: the events an organisation can subscribe an HTTPS endpoint
//! to, registering one (its signing secret is in the answer once), and what owners and admins
//! see of endpoints and deliveries. A delivery's body is an [`WebhookPayload`]: the event's
//! type, time and the id of what it is about, never a secret, a name or content; it is signed
//! as Stripe signs its webhooks (`Sealpost-Signature: t=<unix>,v1=<hex HMAC-SHA-256 of
//! "<t>.<body>" under the endpoint's secret>`).

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::secret::SecretString;

/// What every endpoint's signing secret starts with.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// The header a delivery's signature travels in.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "Sealpost-Signature";

/// Something that happened to an organisation's sends, documents, requests or invoices.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A recipient opened a Secure Send link with its one-time password.
    #[serde(rename = "link.opened")]
    LinkOpened,
    /// A recipient's browser proved it decrypted the bundle (the delivery receipt).
    #[serde(rename = "link.delivered")]
    LinkDelivered,
    /// A link was destroyed by too many wrong one-time passwords.
    #[serde(rename = "link.destroyed")]
    LinkDestroyed,
    /// Documents arrived for the organisation (a request answered, a portal drop, a chart
    /// transfer, an authorisation with a request).
    #[serde(rename = "document.arrived")]
    DocumentArrived,
    /// A request of the organisation was answered with documents.
    #[serde(rename = "request.fulfilled")]
    RequestFulfilled,
    /// A request of the organisation passed its due date unanswered.
    #[serde(rename = "request.overdue")]
    RequestOverdue,
    /// An invoice of the organisation was paid (by card, or marked paid by hand).
    #[serde(rename = "invoice.paid")]
    InvoicePaid,
    /// An invoice of the organisation was refunded, wholly or in part.
    #[serde(rename = "invoice.refunded")]
    InvoiceRefunded,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::LinkOpened,
        WebhookEvent::LinkDelivered,
        WebhookEvent::LinkDestroyed,
        WebhookEvent::DocumentArrived,
        WebhookEvent::RequestFulfilled,
        WebhookEvent::RequestOverdue,
        WebhookEvent::InvoicePaid,
        WebhookEvent::InvoiceRefunded,
    ];

    /// The name on the wire, e.g. `link.opened`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::LinkOpened => "link.opened",
            WebhookEvent::LinkDelivered => "link.delivered",
            WebhookEvent::LinkDestroyed => "link.destroyed",
            WebhookEvent::DocumentArrived => "document.arrived",
            WebhookEvent::RequestFulfilled => "request.fulfilled",
            WebhookEvent::RequestOverdue => "request.overdue",
            WebhookEvent::InvoicePaid => "invoice.paid",
            WebhookEvent::InvoiceRefunded => "invoice.refunded",
        }
    }
}

/// The body of every delivery.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The delivery's id: the same on every attempt and replay, so a receiver can drop repeats.
    pub id: Id,
    #[serde(rename = "type")]
    pub event: WebhookEvent,
    /// Unix seconds when it happened.
    pub created: i64,
    pub organisation: Id,
    /// The id of the send (link), document, request or invoice it is about.
    pub object: Id,
}

/// `POST /api/org/webhooks`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWebhookRequest {
    /// `https://…`; private and loopback addresses only where the operator allows them.
    pub url: String,
    pub events: Vec<WebhookEvent>,
}

/// The answer: the endpoint, and its signing secret, shown this once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWebhookResponse {
    pub endpoint: WebhookView,
    pub secret: SecretString,
}

/// An endpoint as owners and admins see it (never its secret).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: Id,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub created_at: i64,
    pub created_by: Id,
    /// The last attempt's time and HTTP status (`None`: no answer, see `last_error`).
    #[serde(default)]
    pub last_attempt_at: Option<i64>,
    #[serde(default)]
    pub last_status: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Where a delivery stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; a replay tries again.
    Failed,
}

/// One delivery as owners and admins see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveryView {
    pub id: Id,
    pub event: WebhookEvent,
    pub object: Id,
    pub created_at: i64,
    pub state: DeliveryState,
    pub attempts: u32,
    #[serde(default)]
    pub last_attempt_at: Option<i64>,
    #[serde(default)]
    pub last_status: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub next_attempt_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_golden() {
        let payload = WebhookPayload {
            id: Id::from_bytes([1; 16]),
            event: WebhookEvent::LinkOpened,
            created: 1_800_000_000,
            organisation: Id::from_bytes([2; 16]),
            object: Id::from_bytes([3; 16]),
        };
        assert_eq!(
            serde_json::to_string(&payload).expect("serializes"),
            r#"{"id":"AQEBAQEBAQEBAQEBAQEBAQ","type":"link.opened","created":1800000000,"organisation":"AgICAgICAgICAgICAgICAg","object":"AwMDAwMDAwMDAwMDAwMDAw"}"#
        );
        for event in WebhookEvent::ALL {
            assert_eq!(
                serde_json::to_string(&event).expect("serializes"),
                format!("\"{}\"", event.as_str())
            );
        }
    }
}
