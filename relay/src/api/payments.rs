//! The paywall at the relay's edge (PRODUCT.md flow 2, PROTOCOL.md "Paywall"): invoices
//! attached to sends, card checkout through Stripe, Stripe's webhook (signature checked before
//! anything is parsed, each event handled once, a payment confirmed by fetching its Checkout
//! Session back before it counts), marking paid by hand, payout details, recording payouts
//! and the payout report. Every change of an invoice is followed by `invoices::sync_subject`,
//! which mirrors "paid" onto the send so its opening decides atomically. What an event does
//! is `invoices::apply_event`; the money rules are in `paywall`.

use axum::Json;
use axum::extract::{Request, State};
use shared::ids::Id;
use shared::money::Currency;
use shared::wire::{self, InvoiceStatus};

use super::json::{ApiJson, ApiPath};
use super::read_body;
use crate::audit::{Actor, AuditAction, Outcome};
use crate::authz::{Made, Permission, authorize, authorize_made};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::guard::Guard;
use crate::identity::Caller;
use crate::invoices::EventError;
use crate::paywall::{self, Change};
use crate::session::Session;
use crate::state::AppState;
use crate::store::{
    CheckoutRecord, InvoiceRecord, InvoiceSubject, InvoiceUpdate, LedgerEntry, SendState,
};
use crate::stripe::{self, NewCheckout};

/// A Checkout Session this close to its expiry is not handed out again.
const CHECKOUT_REUSE_MARGIN_SECONDS: i64 = 600;

/// An invoice as payer and payee see it.
pub fn view(state: &AppState, invoice: &InvoiceRecord) -> Result<wire::InvoiceView, AppError> {
    let payee = state
        .store
        .org(invoice.payee_org)?
        .map(|org| org.name)
        .unwrap_or_default();
    Ok(wire::InvoiceView {
        id: invoice.id,
        amount_minor: invoice.amount_minor,
        currency: invoice.currency,
        description: invoice.description.clone(),
        payee,
        status: invoice.status,
        method: invoice.method,
        paid_at: invoice.paid_at,
        refunded_minor: invoice.refunded_minor,
    })
}

/// `POST /api/invoices/{id}/checkout`, for anyone holding the link: a Stripe Checkout
/// Session for the invoice (an open one is reused), and where to send the browser.
#[utoipa::path(
    post,
    path = "/api/invoices/{id}/checkout",
    operation_id = "payments_checkout",
    tag = "payments",
    security(()),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::CheckoutResponse),
        super::openapi::Errors
    )
)]
pub async fn checkout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::CheckoutResponse>, AppError> {
    let now = state.clock.now();
    let guard = Guard {
        store: &state.store,
        config: &state.config.brute_force,
    };
    if let Err(crate::guard::Refusal::IpBlocked { until }) = guard.check_ip(ip.as_deref(), now)? {
        return Err(AppError::IpBlocked {
            hours: (until - now + 3599).div_euclid(3600),
        });
    }
    let Some(api) = state.stripe.clone() else {
        return Err(AppError::Conflict(
            "card payments are not set up on this relay: pay the sender by other means and ask them to mark the invoice paid".to_owned(),
        ));
    };
    let invoice = state.store.invoice(id)?.ok_or(AppError::NotFound)?;
    match invoice.status {
        InvoiceStatus::Open => {}
        InvoiceStatus::Processing => {
            return Err(AppError::Conflict(
                "a payment for this invoice is being processed; the link opens once it is confirmed".to_owned(),
            ));
        }
        InvoiceStatus::Paid => {
            return Err(AppError::Conflict(
                "this invoice is already paid".to_owned(),
            ));
        }
        InvoiceStatus::Refunded => return Err(crate::links::LinkRefusal::Refunded.into()),
    }
    let return_path = payable_subject(&state, &invoice)?;
    if let Some(existing) = &invoice.checkout
        && existing.expires_at > now + CHECKOUT_REUSE_MARGIN_SECONDS
    {
        return Ok(Json(wire::CheckoutResponse {
            url: existing.url.clone(),
        }));
    }
    let base = public_base(&state)?;
    let invoice_id = invoice.id.to_string();
    let currency = invoice.currency.stripe_code();
    let success_url = format!("{base}{return_path}?checkout={{CHECKOUT_SESSION_ID}}");
    let cancel_url = format!("{base}{return_path}?checkout=cancelled");
    // One session per try (and hour) even if the payer clicks twice at once.
    let idempotency_key = format!(
        "sealpost-checkout-{invoice_id}-{}-{}",
        invoice.failed_payments,
        now.div_euclid(3600)
    );
    let session = api
        .create_checkout_session(&NewCheckout {
            invoice_id: &invoice_id,
            amount_minor: invoice.amount_minor,
            currency: &currency,
            description: &invoice.description,
            success_url: &success_url,
            cancel_url: &cancel_url,
            idempotency_key: &idempotency_key,
        })
        .await
        .map_err(AppError::PaymentProvider)?;
    let url = session.url.clone().ok_or_else(|| {
        AppError::PaymentProvider(anyhow::anyhow!("the Checkout Session has no url"))
    })?;
    let record = CheckoutRecord {
        session_id: session.id.clone(),
        url: url.clone(),
        expires_at: session.expires_at.unwrap_or(now + 86_400),
    };
    state.store.update_invoice(id, None, now, |invoice| {
        invoice.checkout = Some(record.clone());
        ((), Vec::new())
    })?;
    state.audit(
        Actor::Anonymous { ip },
        Some(invoice.payee_org),
        AuditAction::InvoiceCheckout,
        Some(invoice_id),
        Outcome::Success,
    )?;
    Ok(Json(wire::CheckoutResponse { url }))
}

/// `POST /api/invoices/{id}/mark-paid`: the payee records a payment outside Stripe.
#[utoipa::path(
    post,
    path = "/api/invoices/{id}/mark-paid",
    operation_id = "payments_mark_paid",
    tag = "payments",
    security(("session" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    request_body = wire::MarkPaidRequest,
    responses(
        (status = 200, description = "the answer", body = wire::InvoiceView),
        super::openapi::Errors
    )
)]
pub async fn mark_paid(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiPath(id): ApiPath<Id>,
    ApiJson(request): ApiJson<wire::MarkPaidRequest>,
) -> Result<Json<wire::InvoiceView>, AppError> {
    let invoice = state.store.invoice(id)?.ok_or(AppError::NotFound)?;
    authorize_made(
        &session.principal(),
        Permission::CollectPayment,
        Made {
            org: invoice.payee_org,
            by: invoice.created_by,
        },
    )?;
    let reference = paywall::checked_reference(&request.reference)
        .map_err(|refusal| AppError::Invalid(refusal.to_string()))?;
    let now = state.clock.now();
    let _money = state.store.lock_payments().await;
    let update = state.store.update_invoice(id, None, now, |invoice| {
        paywall::paid_by_hand(invoice, &reference, now)
    })?;
    let InvoiceUpdate::Applied { outcome, invoice } = update else {
        return Err(AppError::NotFound);
    };
    if outcome == Change::Absorbed {
        return Err(AppError::Conflict(
            "this invoice is already paid".to_owned(),
        ));
    }
    crate::invoices::sync_subject(&state.store, &invoice)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(invoice.payee_org),
        AuditAction::InvoiceMarkPaid,
        Some(invoice.id.to_string()),
        Outcome::Success,
    )?;
    Ok(Json(view(&state, &invoice)?))
}

/// `POST /api/stripe/webhook`: Stripe's signed events. The signature is checked over the raw
/// body before anything is parsed; an event already handled answers 200 and changes nothing;
/// an answer other than 2xx makes Stripe deliver again later.
#[utoipa::path(
    post,
    path = "/api/stripe/webhook",
    operation_id = "payments_webhook",
    tag = "payments",
    security(()),
    request_body(content = Object, description = "a Stripe event, signed in `Stripe-Signature`"),
    responses(
        (status = 200, description = "the event was taken (or was already taken)", body = Object),
        super::openapi::Errors
    )
)]
pub async fn webhook(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> Result<Json<serde_json::Value>, AppError> {
    let Some(api) = state.stripe.clone() else {
        return Err(AppError::NotFound);
    };
    let header = request
        .headers()
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = read_body(request, state.config.limits.json_body_bytes).await?;
    let now = state.clock.now();
    let config = &state.config.stripe;
    if let Err(error) = stripe::verify_signature(
        header.as_deref(),
        &body,
        config.webhook_secret.dangerously_expose().as_bytes(),
        now,
        i64::from(config.webhook_tolerance_seconds),
    ) {
        tracing::warn!(%error, "refused a Stripe webhook");
        state.audit(
            Actor::Anonymous { ip },
            None,
            AuditAction::StripeWebhook,
            None,
            Outcome::Denied,
        )?;
        return Err(AppError::BadSignature);
    }
    let event: stripe::Event = serde_json::from_slice(&body)
        .map_err(|error| AppError::InvalidBody(format!("not a Stripe event: {error}")))?;
    let outcome = crate::invoices::apply_event(&state.store, &api, &event, ip, now)
        .await
        .map_err(|error| match error {
            EventError::Malformed(message) => AppError::InvalidBody(message),
            EventError::Provider(error) => AppError::PaymentProvider(error),
            EventError::Store(error) => AppError::from(error),
        })?;
    Ok(Json(
        serde_json::json!({ "received": true, "outcome": outcome.as_str() }),
    ))
}

/// `GET /api/org/payouts`: details, the report per currency and the ledger (the owner; an
/// API key with `ledger:read` gets the report and ledger without the bank details).
#[utoipa::path(
    get,
    path = "/api/org/payouts",
    operation_id = "payments_payouts",
    tag = "payments",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the answer", body = wire::PayoutReport),
        super::openapi::Errors
    )
)]
pub async fn payouts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::PayoutReport>, AppError> {
    let org = caller.org().id;
    authorize(&caller.principal(), Permission::ViewLedger, org)?;
    let entries = state.store.ledger_of_org(org)?;
    let lines = paywall::payout_lines(&entries);
    let mut ledger: Vec<wire::LedgerEntryView> = entries.iter().map(ledger_view).collect();
    ledger.reverse();
    let details = match caller.session() {
        Some(_) => state.store.payout_details(org)?,
        None => wire::PayoutDetails::default(),
    };
    Ok(Json(wire::PayoutReport {
        details,
        lines,
        ledger,
        card_payments: state.stripe.is_some(),
    }))
}

/// `PUT /api/org/payouts/details`: where the operator pays card money out (owner only).
#[utoipa::path(
    put,
    path = "/api/org/payouts/details",
    operation_id = "payments_set_payout_details",
    tag = "payments",
    security(("session" = [])),
    request_body = wire::PayoutDetails,
    responses(
        (status = 200, description = "the answer", body = wire::PayoutDetails),
        super::openapi::Errors
    )
)]
pub async fn set_payout_details(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::PayoutDetails>,
) -> Result<Json<wire::PayoutDetails>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManagePayouts,
        session.org.id,
    )?;
    let field = |value: &str, name: &str, limit: usize| -> Result<String, AppError> {
        let value = value.trim();
        if value.chars().count() > limit || value.chars().any(|c| c.is_control() && c != '\n') {
            return Err(AppError::Invalid(format!(
                "{name} must be at most {limit} characters of text"
            )));
        }
        Ok(value.to_owned())
    };
    let details = wire::PayoutDetails {
        account_holder: field(&request.account_holder, "the account holder", 140)?,
        account: field(&request.account, "the account", 64)?,
        bank: field(&request.bank, "the bank", 140)?,
        notes: field(&request.notes, "the notes", 1000)?,
    };
    state.store.set_payout_details(session.org.id, &details)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::PayoutDetails,
        None,
        Outcome::Success,
    )?;
    Ok(Json(details))
}

/// `POST /api/org/payouts`: the owner records a payout received from the operator.
#[utoipa::path(
    post,
    path = "/api/org/payouts",
    operation_id = "payments_record_payout",
    tag = "payments",
    security(("session" = [])),
    request_body = wire::RecordPayoutRequest,
    responses(
        (status = 200, description = "the answer", body = wire::LedgerEntryView),
        super::openapi::Errors
    )
)]
pub async fn record_payout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::RecordPayoutRequest>,
) -> Result<Json<wire::LedgerEntryView>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManagePayouts,
        session.org.id,
    )?;
    let entry = record_payout_for(
        &state,
        session.org.id,
        request.amount_minor,
        request.currency,
        &request.reference,
    )
    .await?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::PayoutRecord,
        Some(entry.seq.to_string()),
        Outcome::Success,
    )?;
    Ok(Json(ledger_view(&entry)))
}

/// Appends a payout after checking it (shared with the operator's command).
pub async fn record_payout_for(
    state: &AppState,
    org: Id,
    amount_minor: u64,
    currency: Currency,
    reference: &str,
) -> Result<LedgerEntry, AppError> {
    let reference = paywall::checked_payout(amount_minor, currency, reference)
        .map_err(|refusal| AppError::Invalid(refusal.to_string()))?;
    let _money = state.store.lock_payments().await;
    Ok(state
        .store
        .record_payout(org, amount_minor, currency, reference, state.clock.now())?)
}

pub fn ledger_view(entry: &LedgerEntry) -> wire::LedgerEntryView {
    wire::LedgerEntryView {
        seq: entry.seq,
        time: entry.time,
        kind: entry.kind,
        method: entry.method,
        invoice: entry.invoice,
        amount_minor: entry.amount_minor,
        currency: entry.currency,
        reference: entry.reference.clone(),
    }
}

/// The page a payer returns to, if what the invoice guards can still be had.
fn payable_subject(state: &AppState, invoice: &InvoiceRecord) -> Result<String, AppError> {
    match invoice.subject {
        InvoiceSubject::Send { id } => {
            let send = state.store.send(id)?.ok_or(AppError::NotFound)?;
            let live = send.state == SendState::Ready
                && state.clock.now() < send.expires_at
                && !send.used_up();
            if !live {
                return Err(AppError::Gone {
                    code: "not_payable",
                    message: "the documents behind this invoice can no longer be opened, so it cannot be paid",
                });
            }
            Ok(format!("/l/{id}"))
        }
        InvoiceSubject::Document { id } => {
            let document = state.store.document(id)?.ok_or(AppError::NotFound)?;
            let live = document.state == shared::wire::DocumentStatus::Ready
                && state.clock.now() < document.expires_at;
            if !live {
                return Err(AppError::Gone {
                    code: "not_payable",
                    message: "the documents behind this invoice are no longer stored, so it cannot be paid",
                });
            }
            Ok(format!("/app/documents/{id}"))
        }
    }
}

/// Where this relay is reached: `public_url`, which the configuration requires whenever card
/// payments are on (`Config::check`). Never a request's `Origin`, which the request chooses.
fn public_base(state: &AppState) -> Result<String, AppError> {
    let configured = state.config.public_url.trim().trim_end_matches('/');
    if configured.is_empty() {
        return Err(AppError::Invalid(
            "this relay does not know its own address: set public_url in its configuration"
                .to_owned(),
        ));
    }
    Ok(configured.to_owned())
}
