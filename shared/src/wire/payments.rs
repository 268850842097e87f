//! Wire types of the paywall (PROTOCOL.md "Paywall"): the terms a sender attaches, the invoice
//! as payers and payees see it, card checkout, marking paid by hand, payout details, the
//! append-only ledger and the payout report. Invoices are relay-visible metadata (amount,
//! currency, description, payee); nothing here is secret, and money is never a float.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::money::Currency;

/// Longest invoice description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Longest payment or payout reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 120;

/// What a payee asks before the documents are released.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTerms {
    /// In the currency's minor units (cents for EUR, yen for JPY).
    pub amount_minor: u64,
    pub currency: Currency,
    pub description: String,
}

/// Where an invoice stands. Only `paid` releases keys.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Waiting for payment.
    Open,
    /// Checkout finished with a payment method that settles later (e.g. a bank debit).
    Processing,
    Paid,
    /// Fully refunded: nothing more is released.
    Refunded,
}

/// How an invoice was paid.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// By card through Stripe Checkout, confirmed by Stripe's signed webhook.
    Stripe,
    /// Marked paid by the payee (bank transfer, cheque), with a reference.
    Manual,
}

/// An invoice as its payer and its payee see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceView {
    pub id: Id,
    pub amount_minor: u64,
    pub currency: Currency,
    pub description: String,
    /// The payee organisation's name.
    pub payee: String,
    pub status: InvoiceStatus,
    #[serde(default)]
    pub method: Option<PaymentMethod>,
    #[serde(default)]
    pub paid_at: Option<i64>,
    /// Refunded so far, in minor units.
    #[serde(default)]
    pub refunded_minor: u64,
}

/// `POST /api/invoices/{id}/checkout`: where to send the payer's browser.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutResponse {
    pub url: String,
}

/// `POST /api/invoices/{id}/mark-paid`: the payee's record of a payment outside Stripe.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkPaidRequest {
    /// A bank transfer's reference, a cheque number.
    pub reference: String,
}

/// Where the operator pays an organisation what its card payments collected (set by the
/// owner; relay-visible, shown to the operator in the payout report).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PayoutDetails {
    pub account_holder: String,
    /// IBAN or account number.
    pub account: String,
    /// BIC, sort code or routing number, and the bank's name.
    pub bank: String,
    pub notes: String,
}

/// What a ledger entry records.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    Payment,
    Refund,
    Payout,
}

/// One append-only ledger entry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntryView {
    pub seq: u64,
    pub time: i64,
    pub kind: LedgerKind,
    /// For payments and refunds.
    #[serde(default)]
    pub method: Option<PaymentMethod>,
    #[serde(default)]
    pub invoice: Option<Id>,
    pub amount_minor: u64,
    pub currency: Currency,
    #[serde(default)]
    pub reference: Option<String>,
}

/// One currency's line of the payout report. Card payments are collected by the relay's
/// Stripe account and owed to the payee; payments marked by hand went to the payee directly.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutLine {
    pub currency: Currency,
    pub collected_by_card: u64,
    pub collected_directly: u64,
    pub refunded: u64,
    pub paid_out: u64,
    /// `collected_by_card - refunded - paid_out`; negative when more was paid out than owed.
    pub owed: i64,
}

/// `GET /api/org/payouts`: the owner's view of money.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutReport {
    pub details: PayoutDetails,
    pub lines: Vec<PayoutLine>,
    /// Newest first.
    pub ledger: Vec<LedgerEntryView>,
    /// Whether card payments are configured on this relay.
    pub card_payments: bool,
}

/// `POST /api/org/payouts`: a payout received from the operator.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPayoutRequest {
    pub amount_minor: u64,
    pub currency: Currency,
    pub reference: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_terms_and_views_golden() {
        let terms = InvoiceTerms {
            amount_minor: 1250,
            currency: Currency::parse("EUR").expect("currency"),
            description: "Copy of records".to_owned(),
        };
        assert_eq!(
            serde_json::to_string(&terms).expect("json"),
            r#"{"amount_minor":1250,"currency":"EUR","description":"Copy of records"}"#
        );
        let parsed: InvoiceTerms =
            serde_json::from_str(r#"{"amount_minor":99,"currency":"usd","description":"x"}"#)
                .expect("a lowercase code parses");
        assert_eq!(parsed.currency.code(), "USD");
        assert!(
            serde_json::from_str::<InvoiceTerms>(
                r#"{"amount_minor":12.5,"currency":"EUR","description":"x"}"#
            )
            .is_err(),
            "a fractional amount is refused"
        );
        assert!(
            serde_json::from_str::<InvoiceTerms>(
                r#"{"amount_minor":-1,"currency":"EUR","description":"x"}"#
            )
            .is_err(),
            "a negative amount is refused"
        );
        assert_eq!(
            serde_json::to_string(&InvoiceStatus::Processing).expect("json"),
            r#""processing""#
        );
        let line = PayoutLine {
            currency: Currency::parse("JPY").expect("currency"),
            collected_by_card: 1000,
            collected_directly: 0,
            refunded: 0,
            paid_out: 1500,
            owed: -500,
        };
        assert_eq!(
            serde_json::to_string(&line).expect("json"),
            r#"{"currency":"JPY","collected_by_card":1000,"collected_directly":0,"refunded":0,"paid_out":1500,"owed":-500}"#
        );
    }
}
