//! Invoices in domain terms (PRODUCT.md flow 2): the terms a sender may ask for, the mirror of
//! "paid" on what an invoice guards, and what each of Stripe's events does to an invoice. No
//! HTTP here: `api/payments.rs` verifies a webhook's signature, parses the event and answers;
//! this module applies it, and says what happened as an [`EventOutcome`] or an [`EventError`],
//! which the edge maps. The money rules themselves (how a payment fact moves an invoice, which
//! ledger entries it causes) are pure functions in `paywall`.

use shared::ids::Id;
use shared::money;
use shared::wire::{self, InvoiceStatus, MAX_DESCRIPTION_CHARS};

use crate::audit::{Actor, AuditAction, AuditEvent, Outcome};
use crate::paywall::{self, Change};
use crate::store::{InvoiceRecord, InvoiceSubject, InvoiceUpdate, Paywall, Store};
use crate::stripe::{self, CheckoutSession};

/// Terms a sender asked for that cannot be an invoice; the message says why, in their words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTerms(pub String);

/// Checks what a sender asks for; the description to store.
pub fn validate_terms(terms: &wire::InvoiceTerms) -> Result<String, InvalidTerms> {
    money::check_amount(terms.amount_minor, terms.currency)
        .map_err(|error| InvalidTerms(error.to_string()))?;
    let description = terms.description.trim();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(InvalidTerms(format!(
            "an invoice needs a description of 1 to {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if description.chars().any(char::is_control) {
        return Err(InvalidTerms(
            "the invoice description cannot contain control characters".to_owned(),
        ));
    }
    Ok(description.to_owned())
}

/// Mirrors the invoice's "paid" onto what it guards (see `store::Paywall`), so an opening
/// decides on it atomically.
pub fn sync_subject(store: &Store, invoice: &InvoiceRecord) -> anyhow::Result<()> {
    let paid = invoice.status == InvoiceStatus::Paid;
    match invoice.subject {
        InvoiceSubject::Send { id } => {
            store.update_send(id, |send| {
                if let Some(paywall) = send.paywall.as_mut()
                    && paywall.invoice == invoice.id
                {
                    paywall.unlocked = paid;
                }
            })?;
        }
        InvoiceSubject::Document { id } => {
            store.update_document(id, |document| {
                if let Some(paywall) = document.paywall.as_mut()
                    && paywall.invoice == invoice.id
                {
                    paywall.unlocked = paid;
                }
            })?;
        }
    }
    Ok(())
}

/// Heals a paywall mirror left behind by a crash between an invoice change and its sync;
/// whether it had to (the caller reads its record again).
pub fn heal_mirror(store: &Store, paywall: Option<Paywall>) -> anyhow::Result<bool> {
    let Some(paywall) = paywall else {
        return Ok(false);
    };
    match store.invoice(paywall.invoice)? {
        Some(invoice) if paywall.unlocked != (invoice.status == InvoiceStatus::Paid) => {
            sync_subject(store, &invoice)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// What applying one of Stripe's events did (the webhook's answer names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// A fact the invoice already reflected (a payment seen before, a late event).
    Absorbed,
    /// This event id was handled before.
    Duplicate,
    /// Not about an invoice of this relay.
    NotOurs,
    /// Amount or currency differ from the invoice: nothing changed.
    Mismatch,
    /// The Checkout Session is not (or not yet) complete.
    NotComplete,
    /// A refund whose payment is not confirmed yet, kept for when it is.
    KeptForLater,
    /// An event type the endpoint was not set up for.
    Ignored,
}

impl EventOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Applied => "applied",
            EventOutcome::Absorbed => "absorbed",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::NotOurs => "not_ours",
            EventOutcome::Mismatch => "mismatch",
            EventOutcome::NotComplete => "not_complete",
            EventOutcome::KeptForLater => "kept_for_later",
            EventOutcome::Ignored => "ignored",
        }
    }
}

/// Why an event could not be applied (Stripe delivers it again later).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The event's object is not what its type says.
    #[error("{0}")]
    Malformed(String),
    /// Stripe's API could not confirm the payment.
    #[error("the payment provider did not answer: {0:#}")]
    Provider(anyhow::Error),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Applies one of Stripe's signed events at `now`, on behalf of `ip` (who delivered it).
pub async fn apply_event(
    store: &Store,
    api: &stripe::StripeApi,
    event: &stripe::Event,
    ip: Option<String>,
    now: i64,
) -> Result<EventOutcome, EventError> {
    if store.stripe_event_seen(&event.id)? {
        return Ok(EventOutcome::Duplicate);
    }
    let audit = Audit { store, ip, now };
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            session_settled(store, &audit, api, event, now).await
        }
        "checkout.session.async_payment_failed" => session_failed(store, &audit, event, now).await,
        "charge.refunded" => charge_refunded(store, &audit, event, now).await,
        // Events the endpoint was not set up for: acknowledged, not recorded.
        _ => Ok(EventOutcome::Ignored),
    }
}

/// The audit entries of the webhook: its deliverer is anonymous, by address.
struct Audit<'a> {
    store: &'a Store,
    ip: Option<String>,
    now: i64,
}

impl Audit<'_> {
    fn record(
        &self,
        invoice: &InvoiceRecord,
        action: AuditAction,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        self.store.audit_append(
            self.now,
            AuditEvent {
                actor: Actor::Anonymous {
                    ip: self.ip.clone(),
                },
                org: Some(invoice.payee_org),
                action,
                target: Some(invoice.id.to_string()),
                outcome,
            },
        )?;
        Ok(())
    }
}

/// `checkout.session.completed` (paid now, or processing for a payment that settles later)
/// and `checkout.session.async_payment_succeeded`: confirmed with Stripe's API first.
async fn session_settled(
    store: &Store,
    audit: &Audit<'_>,
    api: &stripe::StripeApi,
    event: &stripe::Event,
    now: i64,
) -> Result<EventOutcome, EventError> {
    let object: CheckoutSession = serde_json::from_value(event.data.object.clone())
        .map_err(|error| EventError::Malformed(format!("not a Checkout Session: {error}")))?;
    let Some(invoice_id) = invoice_of(&object) else {
        store.mark_stripe_event(&event.id, now)?;
        return Ok(EventOutcome::NotOurs);
    };
    // The event says what happened; Stripe's API says what is true now.
    let confirmed = api
        .checkout_session(&object.id)
        .await
        .map_err(EventError::Provider)?;
    let Some(invoice) = store.invoice(invoice_id)? else {
        store.mark_stripe_event(&event.id, now)?;
        return Ok(EventOutcome::NotOurs);
    };
    let matches = invoice_of(&confirmed) == Some(invoice_id)
        && confirmed.amount_total == Some(invoice.amount_minor)
        && confirmed.currency.as_deref() == Some(invoice.currency.stripe_code().as_str());
    if !matches {
        tracing::warn!(
            invoice = %invoice_id,
            "a Checkout Session does not match its invoice's amount or currency"
        );
        store.mark_stripe_event(&event.id, now)?;
        audit.record(&invoice, AuditAction::InvoicePaid, Outcome::Failure)?;
        return Ok(EventOutcome::Mismatch);
    }
    let payment_intent = confirmed
        .payment_intent
        .clone()
        .unwrap_or_else(|| confirmed.id.clone());
    let amount = invoice.amount_minor;
    let _money = store.lock_payments().await;
    let update = match (confirmed.status.as_str(), confirmed.payment_status.as_str()) {
        ("complete", "paid") => {
            store.update_invoice(invoice_id, Some(&event.id), now, |invoice| {
                paywall::card_paid(invoice, &payment_intent, amount, now)
            })?
        }
        ("complete", "unpaid") => {
            store.update_invoice(invoice_id, Some(&event.id), now, paywall::card_processing)?
        }
        // Not (or not yet) complete whatever the event said: nothing happened.
        _ => {
            store.mark_stripe_event(&event.id, now)?;
            return Ok(EventOutcome::NotComplete);
        }
    };
    let (change, mut invoice) = match update {
        InvoiceUpdate::Applied { outcome, invoice } => (outcome, invoice),
        InvoiceUpdate::Duplicate => return Ok(EventOutcome::Duplicate),
        InvoiceUpdate::Missing => return Ok(EventOutcome::NotOurs),
    };
    // A refund of this payment may have arrived before it (events are not ordered).
    if matches!(change, Change::Paid | Change::PaidAgain)
        && let Some(refunded) = store.early_refund(&payment_intent)?
        && let InvoiceUpdate::Applied {
            invoice: refunded_invoice,
            ..
        } = store.update_invoice(invoice_id, None, now, |invoice| {
            paywall::card_refunded(invoice, &payment_intent, refunded)
        })?
    {
        invoice = refunded_invoice;
    }
    sync_subject(store, &invoice)?;
    let action = match change {
        Change::Paid | Change::PaidAgain => AuditAction::InvoicePaid,
        Change::Processing => AuditAction::InvoiceProcessing,
        _ => return Ok(EventOutcome::Absorbed),
    };
    audit.record(&invoice, action, Outcome::Success)?;
    if invoice.status == InvoiceStatus::Refunded {
        audit.record(&invoice, AuditAction::InvoiceRefunded, Outcome::Success)?;
    }
    Ok(EventOutcome::Applied)
}

/// `checkout.session.async_payment_failed`: a processing payment failed; the invoice is
/// open again.
async fn session_failed(
    store: &Store,
    audit: &Audit<'_>,
    event: &stripe::Event,
    now: i64,
) -> Result<EventOutcome, EventError> {
    let object: CheckoutSession = serde_json::from_value(event.data.object.clone())
        .map_err(|error| EventError::Malformed(format!("not a Checkout Session: {error}")))?;
    let Some(invoice_id) = invoice_of(&object) else {
        store.mark_stripe_event(&event.id, now)?;
        return Ok(EventOutcome::NotOurs);
    };
    let _money = store.lock_payments().await;
    match store.update_invoice(invoice_id, Some(&event.id), now, paywall::card_failed)? {
        InvoiceUpdate::Applied {
            outcome: Change::Failed,
            invoice,
        } => {
            sync_subject(store, &invoice)?;
            audit.record(
                &invoice,
                AuditAction::InvoicePaymentFailed,
                Outcome::Failure,
            )?;
            Ok(EventOutcome::Applied)
        }
        InvoiceUpdate::Applied { .. } => Ok(EventOutcome::Absorbed),
        InvoiceUpdate::Duplicate => Ok(EventOutcome::Duplicate),
        InvoiceUpdate::Missing => {
            store.mark_stripe_event(&event.id, now)?;
            Ok(EventOutcome::NotOurs)
        }
    }
}

/// `charge.refunded`: money went back. A full refund locks what the invoice guards.
async fn charge_refunded(
    store: &Store,
    audit: &Audit<'_>,
    event: &stripe::Event,
    now: i64,
) -> Result<EventOutcome, EventError> {
    let charge: stripe::Charge = serde_json::from_value(event.data.object.clone())
        .map_err(|error| EventError::Malformed(format!("not a charge: {error}")))?;
    let payment_intent = charge.payment_intent.clone().unwrap_or(charge.id.clone());
    let _money = store.lock_payments().await;
    let Some(invoice) = store.invoice_by_payment(&payment_intent)? else {
        // Perhaps its payment is not confirmed yet: keep the refund for when it is.
        store.record_early_refund(&event.id, &payment_intent, charge.amount_refunded, now)?;
        return Ok(EventOutcome::KeptForLater);
    };
    if charge.currency != invoice.currency.stripe_code() {
        store.mark_stripe_event(&event.id, now)?;
        return Ok(EventOutcome::Mismatch);
    }
    let update = store.update_invoice(invoice.id, Some(&event.id), now, |invoice| {
        paywall::card_refunded(invoice, &payment_intent, charge.amount_refunded)
    })?;
    match update {
        InvoiceUpdate::Applied { outcome, invoice } => {
            sync_subject(store, &invoice)?;
            let action = match outcome {
                Change::Refunded => AuditAction::InvoiceRefunded,
                Change::PartlyRefunded => AuditAction::InvoicePartlyRefunded,
                _ => return Ok(EventOutcome::Absorbed),
            };
            audit.record(&invoice, action, Outcome::Success)?;
            Ok(EventOutcome::Applied)
        }
        InvoiceUpdate::Duplicate => Ok(EventOutcome::Duplicate),
        InvoiceUpdate::Missing => Ok(EventOutcome::NotOurs),
    }
}

/// The invoice a Checkout Session is for (its metadata, set when the relay made it).
pub fn invoice_of(session: &CheckoutSession) -> Option<Id> {
    session
        .metadata
        .get("invoice_id")
        .and_then(|text| Id::parse(text).ok())
}
