//! The paywall's rules, as pure functions over an invoice (PRODUCT.md flow 2): how each
//! payment fact moves an invoice and which ledger entries it causes, and how the ledger sums
//! into a payout report. States only move forward (open → processing → paid → refunded; a
//! failed bank debit returns processing to open), so an event that arrives late or twice is
//! absorbed instead of undoing a later one. The checks of a payout or a payment marked by hand
//! live here too, so the API and the operator's command refuse the same input. No I/O here:
//! `api::payments` applies these inside the store's invoice transaction.

use std::collections::BTreeMap;

use shared::money::Currency;
use shared::wire::{InvoiceStatus, LedgerKind, PaymentMethod, PayoutLine};

use crate::store::{InvoiceRecord, LedgerEntry, NewEntry, StripePayment};

/// What a payment fact did to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The invoice became paid: keys may be released.
    Paid,
    /// Money arrived for an invoice that was already paid (recorded in the ledger only).
    PaidAgain,
    /// A payment that settles later is under way.
    Processing,
    /// That payment failed: the invoice is open again.
    Failed,
    /// Some money went back; the invoice stays paid.
    PartlyRefunded,
    /// All card money went back: nothing more is released.
    Refunded,
    /// Nothing changed (a late, repeated or foreign fact).
    Absorbed,
}

/// Stripe confirmed a card payment `payment_intent` of `amount_minor` at `now`.
pub fn card_paid(
    invoice: &mut InvoiceRecord,
    payment_intent: &str,
    amount_minor: u64,
    now: i64,
) -> (Change, Vec<NewEntry>) {
    if invoice
        .stripe_payments
        .iter()
        .any(|payment| payment.payment_intent == payment_intent)
    {
        return (Change::Absorbed, Vec::new());
    }
    invoice.stripe_payments.push(StripePayment {
        payment_intent: payment_intent.to_owned(),
        amount_minor,
        refunded_minor: 0,
    });
    let entry = NewEntry {
        kind: LedgerKind::Payment,
        method: Some(PaymentMethod::Stripe),
        amount_minor,
        reference: Some(payment_intent.to_owned()),
    };
    let change = match invoice.status {
        InvoiceStatus::Open | InvoiceStatus::Processing | InvoiceStatus::Refunded => {
            invoice.status = InvoiceStatus::Paid;
            invoice.method = Some(PaymentMethod::Stripe);
            invoice.paid_at = Some(now);
            Change::Paid
        }
        InvoiceStatus::Paid => Change::PaidAgain,
    };
    (change, vec![entry])
}

/// Checkout finished but the money settles later (a bank debit).
pub fn card_processing(invoice: &mut InvoiceRecord) -> (Change, Vec<NewEntry>) {
    match invoice.status {
        InvoiceStatus::Open => {
            invoice.status = InvoiceStatus::Processing;
            (Change::Processing, Vec::new())
        }
        InvoiceStatus::Processing | InvoiceStatus::Paid | InvoiceStatus::Refunded => {
            (Change::Absorbed, Vec::new())
        }
    }
}

/// The payment that was processing failed.
pub fn card_failed(invoice: &mut InvoiceRecord) -> (Change, Vec<NewEntry>) {
    match invoice.status {
        InvoiceStatus::Processing => {
            invoice.status = InvoiceStatus::Open;
            // That session is spent: the next try gets a new one.
            invoice.checkout = None;
            invoice.failed_payments = invoice.failed_payments.saturating_add(1);
            (Change::Failed, Vec::new())
        }
        InvoiceStatus::Open | InvoiceStatus::Paid | InvoiceStatus::Refunded => {
            (Change::Absorbed, Vec::new())
        }
    }
}

/// Stripe says `refunded_total` of `payment_intent` has been refunded (a running total, so a
/// repeated or reordered event changes nothing).
pub fn card_refunded(
    invoice: &mut InvoiceRecord,
    payment_intent: &str,
    refunded_total: u64,
) -> (Change, Vec<NewEntry>) {
    let Some(payment) = invoice
        .stripe_payments
        .iter_mut()
        .find(|payment| payment.payment_intent == payment_intent)
    else {
        return (Change::Absorbed, Vec::new());
    };
    let refunded_total = refunded_total.min(payment.amount_minor);
    let delta = refunded_total.saturating_sub(payment.refunded_minor);
    if delta == 0 {
        return (Change::Absorbed, Vec::new());
    }
    payment.refunded_minor = refunded_total;
    invoice.refunded_minor = invoice.refunded_minor.saturating_add(delta);
    let entry = NewEntry {
        kind: LedgerKind::Refund,
        method: Some(PaymentMethod::Stripe),
        amount_minor: delta,
        reference: Some(payment_intent.to_owned()),
    };
    let all_card_money_back = invoice
        .stripe_payments
        .iter()
        .all(|payment| payment.refunded_minor >= payment.amount_minor);
    let paid_by_card = invoice.method == Some(PaymentMethod::Stripe);
    if invoice.status == InvoiceStatus::Paid && paid_by_card && all_card_money_back {
        invoice.status = InvoiceStatus::Refunded;
        return (Change::Refunded, vec![entry]);
    }
    (Change::PartlyRefunded, vec![entry])
}

/// The payee marks the invoice paid by hand with `reference`.
pub fn paid_by_hand(
    invoice: &mut InvoiceRecord,
    reference: &str,
    now: i64,
) -> (Change, Vec<NewEntry>) {
    if invoice.status == InvoiceStatus::Paid {
        return (Change::Absorbed, Vec::new());
    }
    invoice.status = InvoiceStatus::Paid;
    invoice.method = Some(PaymentMethod::Manual);
    invoice.paid_at = Some(now);
    invoice.reference = Some(reference.to_owned());
    let entry = NewEntry {
        kind: LedgerKind::Payment,
        method: Some(PaymentMethod::Manual),
        amount_minor: invoice.amount_minor,
        reference: Some(reference.to_owned()),
    };
    (Change::Paid, vec![entry])
}

/// The payout report's lines, one per currency (never summed across currencies): card
/// payments are collected by the relay's Stripe account and owed to the payee, less refunds
/// and payouts; payments marked by hand reached the payee directly.
pub fn payout_lines(entries: &[LedgerEntry]) -> Vec<PayoutLine> {
    #[derive(Default)]
    struct Sums {
        card: u128,
        direct: u128,
        refunded: u128,
        paid_out: u128,
    }
    let mut sums: BTreeMap<Currency, Sums> = BTreeMap::new();
    for entry in entries {
        let line = sums.entry(entry.currency).or_default();
        let amount = u128::from(entry.amount_minor);
        match (entry.kind, entry.method) {
            (LedgerKind::Payment, Some(PaymentMethod::Manual)) => line.direct += amount,
            (LedgerKind::Payment, _) => line.card += amount,
            (LedgerKind::Refund, _) => line.refunded += amount,
            (LedgerKind::Payout, _) => line.paid_out += amount,
        }
    }
    let clamp = |value: u128| u64::try_from(value).unwrap_or(u64::MAX);
    sums.into_iter()
        .map(|(currency, sums)| {
            let owed = sums.card as i128 - sums.refunded as i128 - sums.paid_out as i128;
            PayoutLine {
                currency,
                collected_by_card: clamp(sums.card),
                collected_directly: clamp(sums.direct),
                refunded: clamp(sums.refunded),
                paid_out: clamp(sums.paid_out),
                owed: i64::try_from(owed).unwrap_or(if owed < 0 { i64::MIN } else { i64::MAX }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::InvoiceSubject;
    use shared::ids::Id;

    fn invoice(amount_minor: u64) -> InvoiceRecord {
        let terms = shared::wire::InvoiceTerms {
            amount_minor,
            currency: Currency::parse("EUR").expect("currency"),
            description: "records".to_owned(),
        };
        InvoiceRecord::open(
            Id::from_bytes([1; 16]),
            Id::from_bytes([2; 16]),
            Id::from_bytes([3; 16]),
            InvoiceSubject::Send {
                id: Id::from_bytes([4; 16]),
            },
            &terms,
            terms.description.clone(),
            0,
        )
    }

    #[test]
    fn a_card_payment_pays_once_and_a_full_refund_locks() {
        let mut bill = invoice(1250);
        assert_eq!(card_processing(&mut bill).0, Change::Processing);
        let (change, entries) = card_paid(&mut bill, "pi_1", 1250, 5);
        assert_eq!(change, Change::Paid);
        assert_eq!(entries.len(), 1);
        assert_eq!(bill.status, InvoiceStatus::Paid);
        assert_eq!(
            card_paid(&mut bill, "pi_1", 1250, 6),
            (Change::Absorbed, Vec::new()),
            "the same payment twice"
        );
        assert_eq!(card_processing(&mut bill).0, Change::Absorbed, "late");
        assert_eq!(card_failed(&mut bill).0, Change::Absorbed, "late");
        let (change, entries) = card_refunded(&mut bill, "pi_1", 250);
        assert_eq!(change, Change::PartlyRefunded);
        assert_eq!(entries[0].amount_minor, 250);
        assert_eq!(
            card_refunded(&mut bill, "pi_1", 250).0,
            Change::Absorbed,
            "the same running total again"
        );
        assert_eq!(
            card_refunded(&mut bill, "pi_1", 100).0,
            Change::Absorbed,
            "an older, smaller total"
        );
        let (change, entries) = card_refunded(&mut bill, "pi_1", 1250);
        assert_eq!(change, Change::Refunded);
        assert_eq!(entries[0].amount_minor, 1000, "only the difference");
        assert_eq!(bill.refunded_minor, 1250);
        assert_eq!(bill.status, InvoiceStatus::Refunded);
        assert_eq!(
            card_refunded(&mut bill, "pi_other", 1250).0,
            Change::Absorbed,
            "a payment this invoice never had"
        );
    }

    #[test]
    fn a_failed_debit_reopens_and_a_hand_marked_invoice_still_records_card_money() {
        let mut bill = invoice(900);
        card_processing(&mut bill);
        assert_eq!(card_failed(&mut bill).0, Change::Failed);
        assert_eq!(bill.status, InvoiceStatus::Open);
        assert_eq!(paid_by_hand(&mut bill, "transfer 42", 7).0, Change::Paid);
        assert_eq!(bill.method, Some(PaymentMethod::Manual));
        assert_eq!(paid_by_hand(&mut bill, "again", 8).0, Change::Absorbed);
        let (change, entries) = card_paid(&mut bill, "pi_2", 900, 9);
        assert_eq!(change, Change::PaidAgain);
        assert_eq!(entries.len(), 1, "card money is in the ledger even so");
        assert_eq!(
            card_refunded(&mut bill, "pi_2", 900).0,
            Change::PartlyRefunded,
            "refunding the duplicate card payment leaves the hand-marked payment"
        );
        assert_eq!(bill.status, InvoiceStatus::Paid);
    }

    #[test]
    fn the_report_sums_each_currency_on_its_own() {
        let eur = Currency::parse("EUR").expect("currency");
        let jpy = Currency::parse("JPY").expect("currency");
        let entry = |kind, method, amount_minor, currency| LedgerEntry {
            seq: 0,
            org: Id::from_bytes([2; 16]),
            time: 0,
            kind,
            method,
            invoice: None,
            amount_minor,
            currency,
            reference: None,
        };
        let card = Some(PaymentMethod::Stripe);
        let entries = [
            entry(LedgerKind::Payment, card, 1250, eur),
            entry(LedgerKind::Payment, card, 1, eur),
            entry(LedgerKind::Refund, card, 250, eur),
            entry(LedgerKind::Payment, Some(PaymentMethod::Manual), 5000, eur),
            entry(LedgerKind::Payout, None, 900, eur),
            entry(LedgerKind::Payment, card, 1000, jpy),
            entry(LedgerKind::Payout, None, 1500, jpy),
        ];
        let lines = payout_lines(&entries);
        assert_eq!(lines.len(), 2);
        let euros = lines.iter().find(|line| line.currency == eur).expect("EUR");
        assert_eq!(
            (
                euros.collected_by_card,
                euros.collected_directly,
                euros.refunded,
                euros.paid_out,
                euros.owed
            ),
            (1251, 5000, 250, 900, 101)
        );
        let yen = lines.iter().find(|line| line.currency == jpy).expect("JPY");
        assert_eq!(yen.owed, -500, "paid out more than collected");
    }
}

/// Why a payout or a payment marked by hand cannot be recorded, in words for whoever typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryRefusal {
    #[error("{0}")]
    Amount(shared::money::MoneyError),
    #[error(
        "give a reference (a transfer's reference, a cheque number) of 1 to {} characters",
        shared::wire::MAX_REFERENCE_CHARS
    )]
    Reference,
}

/// A payout as the ledger takes it, whoever records it (an owner through the API, the operator
/// with `admin payout record`): an amount within the currency's limits and a reference of 1 to
/// `MAX_REFERENCE_CHARS` characters with no control character; answers the reference trimmed.
pub fn checked_payout(
    amount_minor: u64,
    currency: shared::money::Currency,
    reference: &str,
) -> Result<String, EntryRefusal> {
    shared::money::check_amount(amount_minor, currency).map_err(EntryRefusal::Amount)?;
    checked_reference(reference)
}

/// A ledger entry's reference as typed (a transfer's reference, a cheque number): trimmed, 1 to
/// `MAX_REFERENCE_CHARS` characters, no control character.
pub fn checked_reference(reference: &str) -> Result<String, EntryRefusal> {
    let reference = reference.trim();
    if reference.is_empty()
        || reference.chars().count() > shared::wire::MAX_REFERENCE_CHARS
        || reference.chars().any(char::is_control)
    {
        return Err(EntryRefusal::Reference);
    }
    Ok(reference.to_owned())
}
