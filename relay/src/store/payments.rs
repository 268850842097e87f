//! Invoices, the append-only ledger, processed Stripe events and payout details in sled. An
//! invoice's change, the ledger entries it causes, the payment index and the record that a
//! Stripe event was handled are written in one transaction, so a crash can neither pay twice
//! nor lose a payment, and a replayed event finds itself already handled. There is no API
//! here that rewrites or removes a ledger entry.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::ids::Id;
use shared::money::Currency;
use shared::wire::{InvoiceStatus, LedgerKind, PaymentMethod, PayoutDetails};
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::Store;

const INVOICES: &str = "invoices";
/// Stripe payment intent id → invoice id.
const INVOICES_BY_PAYMENT: &str = "invoices_by_payment";
/// `org ‖ seq` (big-endian) → ledger entry.
const LEDGER: &str = "ledger";
/// Stripe event id → when it was handled.
const STRIPE_EVENTS: &str = "stripe_events";
/// Refunds that arrived before the payment they refund (payment intent → refunded amount).
const EARLY_REFUNDS: &str = "early_refunds";
const PAYOUT_DETAILS: &str = "payout_details";

/// What an invoice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InvoiceSubject {
    /// A Secure Send link.
    Send { id: Id },
    /// A document fulfilling a request.
    Document { id: Id },
}

/// A Stripe Checkout Session made for an invoice (reused while it is open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRecord {
    pub session_id: String,
    pub url: String,
    pub expires_at: i64,
}

/// An invoice as stored: relay-visible metadata, never anything secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub id: Id,
    pub payee_org: Id,
    pub created_by: Id,
    pub subject: InvoiceSubject,
    pub amount_minor: u64,
    pub currency: Currency,
    pub description: String,
    pub status: InvoiceStatus,
    pub created_at: i64,
    #[serde(default)]
    pub method: Option<PaymentMethod>,
    #[serde(default)]
    pub paid_at: Option<i64>,
    /// A reference given when it was marked paid by hand.
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub refunded_minor: u64,
    #[serde(default)]
    pub checkout: Option<CheckoutRecord>,
    /// Card payments Stripe confirmed for it (normally one; a second one, say after it was
    /// also marked paid by hand, is recorded too, so the ledger holds all money collected).
    #[serde(default)]
    pub stripe_payments: Vec<StripePayment>,
    /// Payments that failed after checkout (each try gets its own session).
    #[serde(default)]
    pub failed_payments: u32,
}

impl InvoiceRecord {
    /// A new, open invoice for `subject`, asked by `created_by` of `payee_org`.
    pub fn open(
        id: Id,
        payee_org: Id,
        created_by: Id,
        subject: InvoiceSubject,
        terms: &shared::wire::InvoiceTerms,
        description: String,
        now: i64,
    ) -> Self {
        Self {
            id,
            payee_org,
            created_by,
            subject,
            amount_minor: terms.amount_minor,
            currency: terms.currency,
            description,
            status: InvoiceStatus::Open,
            created_at: now,
            method: None,
            paid_at: None,
            reference: None,
            refunded_minor: 0,
            checkout: None,
            stripe_payments: Vec::new(),
            failed_payments: 0,
        }
    }
}

/// One confirmed card payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripePayment {
    pub payment_intent: String,
    pub amount_minor: u64,
    #[serde(default)]
    pub refunded_minor: u64,
}

/// One ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub seq: u64,
    pub org: Id,
    pub time: i64,
    pub kind: LedgerKind,
    #[serde(default)]
    pub method: Option<PaymentMethod>,
    #[serde(default)]
    pub invoice: Option<Id>,
    pub amount_minor: u64,
    pub currency: Currency,
    #[serde(default)]
    pub reference: Option<String>,
}

/// A ledger entry an invoice change asks for (the store gives it its number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub kind: LedgerKind,
    pub method: Option<PaymentMethod>,
    pub amount_minor: u64,
    pub reference: Option<String>,
}

/// What `update_invoice` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceUpdate<T> {
    /// The change ran and was written.
    Applied {
        outcome: T,
        invoice: Box<InvoiceRecord>,
    },
    /// The Stripe event was handled before: nothing changed.
    Duplicate,
    /// No such invoice.
    Missing,
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).with_context(|| format!("a stored {what} is corrupt"))
}

fn encode<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(value).context("while encoding a payment record")
}

fn ledger_key(org: Id, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(24);
    key.extend_from_slice(org.as_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

impl Store {
    /// Stores a new invoice.
    pub fn create_invoice(&self, invoice: &InvoiceRecord) -> anyhow::Result<()> {
        self.tree(INVOICES)?
            .insert(invoice.id.as_bytes(), encode(invoice)?)?;
        Ok(())
    }

    pub fn invoice(&self, id: Id) -> anyhow::Result<Option<InvoiceRecord>> {
        self.tree(INVOICES)?
            .get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "invoice"))
            .transpose()
    }

    /// Forgets an invoice nothing was ever paid on (its send could not be created).
    pub fn delete_unpaid_invoice(&self, id: Id) -> anyhow::Result<()> {
        let tree = self.tree(INVOICES)?;
        if let Some(bytes) = tree.get(id.as_bytes())? {
            let invoice: InvoiceRecord = decode(&bytes, "invoice")?;
            anyhow::ensure!(
                invoice.status == InvoiceStatus::Open && invoice.paid_at.is_none(),
                "only an unpaid invoice may be forgotten"
            );
            tree.remove(id.as_bytes())?;
        }
        Ok(())
    }

    /// The invoice a Stripe payment intent paid.
    pub fn invoice_by_payment(
        &self,
        payment_intent: &str,
    ) -> anyhow::Result<Option<InvoiceRecord>> {
        let Some(id) = self
            .tree(INVOICES_BY_PAYMENT)?
            .get(payment_intent.as_bytes())?
        else {
            return Ok(None);
        };
        let id = <[u8; 16]>::try_from(id.as_ref()).context("a payment index entry is corrupt")?;
        self.invoice(Id::from_bytes(id))
    }

    /// Whether a Stripe event was handled already.
    pub fn stripe_event_seen(&self, event: &str) -> anyhow::Result<bool> {
        Ok(self.tree(STRIPE_EVENTS)?.contains_key(event.as_bytes())?)
    }

    /// Records that a Stripe event was handled without changing anything else (an event
    /// absorbed as out of date). `false` if it was recorded before.
    pub fn mark_stripe_event(&self, event: &str, now: i64) -> anyhow::Result<bool> {
        let swapped = self.tree(STRIPE_EVENTS)?.compare_and_swap(
            event.as_bytes(),
            None as Option<&[u8]>,
            Some(now.to_be_bytes().as_slice()),
        )?;
        Ok(swapped.is_ok())
    }

    /// Applies `change` to the invoice and appends the ledger entries it returns, all in one
    /// transaction; with `event`, also records that Stripe event as handled (and does nothing
    /// if it was). `change` may run more than once: it must only compute.
    pub fn update_invoice<T>(
        &self,
        id: Id,
        event: Option<&str>,
        now: i64,
        change: impl Fn(&mut InvoiceRecord) -> (T, Vec<NewEntry>),
    ) -> anyhow::Result<InvoiceUpdate<T>> {
        let (invoices, ledger, events, by_payment) = (
            self.tree(INVOICES)?,
            self.tree(LEDGER)?,
            self.tree(STRIPE_EVENTS)?,
            self.tree(INVOICES_BY_PAYMENT)?,
        );
        let trees = (invoices.raw(), ledger.raw(), events.raw(), by_payment.raw());
        let result = super::durability::gated(|| {
            trees.transaction(|(invoices, ledger, events, by_payment)| {
                let abort = |error: anyhow::Error| ConflictableTransactionError::Abort(error);
                if let Some(event) = event
                    && events.get(event.as_bytes())?.is_some()
                {
                    return Ok(InvoiceUpdate::Duplicate);
                }
                let Some(bytes) = invoices.get(id.as_bytes())? else {
                    return Ok(InvoiceUpdate::Missing);
                };
                let mut invoice: InvoiceRecord = decode(&bytes, "invoice").map_err(abort)?;
                let (outcome, entries) = change(&mut invoice);
                for entry in entries {
                    let seq = ledger.generate_id()?;
                    let stored = LedgerEntry {
                        seq,
                        org: invoice.payee_org,
                        time: now,
                        kind: entry.kind,
                        method: entry.method,
                        invoice: Some(invoice.id),
                        amount_minor: entry.amount_minor,
                        currency: invoice.currency,
                        reference: entry.reference,
                    };
                    ledger.insert(
                        ledger_key(invoice.payee_org, seq),
                        encode(&stored).map_err(abort)?,
                    )?;
                }
                for payment in &invoice.stripe_payments {
                    by_payment.insert(
                        payment.payment_intent.as_bytes(),
                        invoice.id.as_bytes().as_slice(),
                    )?;
                }
                invoices.insert(id.as_bytes(), encode(&invoice).map_err(abort)?)?;
                if let Some(event) = event {
                    events.insert(event.as_bytes(), now.to_be_bytes().as_slice())?;
                }
                Ok(InvoiceUpdate::Applied {
                    outcome,
                    invoice: Box::new(invoice),
                })
            })
        });
        match result {
            Ok(update) => {
                self.wrote();
                Ok(update)
            }
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => {
                Err(error).context("while writing a payment change")
            }
        }
    }

    /// Remembers a refund that arrived before its payment was confirmed (Stripe does not
    /// promise to deliver events in order), and records the event as handled.
    pub fn record_early_refund(
        &self,
        event: &str,
        payment_intent: &str,
        amount_refunded: u64,
        now: i64,
    ) -> anyhow::Result<bool> {
        let (early_refunds, events) = (self.tree(EARLY_REFUNDS)?, self.tree(STRIPE_EVENTS)?);
        let trees = (early_refunds.raw(), events.raw());
        let result = super::durability::gated(|| {
            trees.transaction(
                |(early, events)| -> sled::transaction::ConflictableTransactionResult<bool, ()> {
                    if events.get(event.as_bytes())?.is_some() {
                        return Ok(false);
                    }
                    let known = early
                        .get(payment_intent.as_bytes())?
                        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
                        .map_or(0, u64::from_be_bytes);
                    // Refund events carry the running total: keep the largest seen.
                    early.insert(
                        payment_intent.as_bytes(),
                        known.max(amount_refunded).to_be_bytes().as_slice(),
                    )?;
                    events.insert(event.as_bytes(), now.to_be_bytes().as_slice())?;
                    Ok(true)
                },
            )
        });
        let recorded = match result {
            Ok(recorded) => recorded,
            Err(TransactionError::Storage(error)) => {
                return Err(error).context("while recording an early refund");
            }
            Err(TransactionError::Abort(())) => false,
        };
        self.wrote();
        Ok(recorded)
    }

    /// The refunded total that arrived early for a payment intent, if any.
    pub fn early_refund(&self, payment_intent: &str) -> anyhow::Result<Option<u64>> {
        Ok(self
            .tree(EARLY_REFUNDS)?
            .get(payment_intent.as_bytes())?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    /// Appends a payout (no invoice) to an organisation's ledger.
    pub fn record_payout(
        &self,
        org: Id,
        amount_minor: u64,
        currency: Currency,
        reference: String,
        now: i64,
    ) -> anyhow::Result<LedgerEntry> {
        let ledger = self.tree(LEDGER)?;
        let seq = self.db.generate_id()?;
        let entry = LedgerEntry {
            seq,
            org,
            time: now,
            kind: LedgerKind::Payout,
            method: None,
            invoice: None,
            amount_minor,
            currency,
            reference: Some(reference),
        };
        let swapped = ledger.compare_and_swap(
            ledger_key(org, seq),
            None as Option<&[u8]>,
            Some(encode(&entry)?),
        )?;
        anyhow::ensure!(swapped.is_ok(), "a ledger number was handed out twice");
        Ok(entry)
    }

    /// An organisation's ledger, oldest first.
    pub fn ledger_of_org(&self, org: Id) -> anyhow::Result<Vec<LedgerEntry>> {
        let mut entries = Vec::new();
        for item in self.tree(LEDGER)?.scan_prefix(org.as_bytes()) {
            let (_, bytes) = item?;
            entries.push(decode::<LedgerEntry>(&bytes, "ledger entry")?);
        }
        Ok(entries)
    }

    pub fn payout_details(&self, org: Id) -> anyhow::Result<PayoutDetails> {
        Ok(self
            .tree(PAYOUT_DETAILS)?
            .get(org.as_bytes())?
            .map(|bytes| decode(&bytes, "payout details"))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn set_payout_details(&self, org: Id, details: &PayoutDetails) -> anyhow::Result<()> {
        self.tree(PAYOUT_DETAILS)?
            .insert(org.as_bytes(), encode(details)?)?;
        Ok(())
    }

    /// Deletes a purged organisation's payout details (bank data is personal data); its
    /// ledger and invoices, which are financial records without content, stay.
    pub fn delete_payout_details(&self, org: Id) -> anyhow::Result<()> {
        self.tree(PAYOUT_DETAILS)?.remove(org.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice(org: Id) -> InvoiceRecord {
        let terms = shared::wire::InvoiceTerms {
            amount_minor: 1250,
            currency: Currency::parse("EUR").expect("currency"),
            description: "records".to_owned(),
        };
        InvoiceRecord::open(
            Id::from_bytes([7; 16]),
            org,
            Id::from_bytes([8; 16]),
            InvoiceSubject::Send {
                id: Id::from_bytes([9; 16]),
            },
            &terms,
            terms.description.clone(),
            0,
        )
    }

    #[test]
    fn an_event_changes_an_invoice_once_and_its_entries_stay_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let org = Id::from_bytes([1; 16]);
        let record = invoice(org);
        store.create_invoice(&record).expect("create");
        let pay = |invoice: &mut InvoiceRecord| {
            invoice.status = InvoiceStatus::Paid;
            invoice.stripe_payments = vec![StripePayment {
                payment_intent: "pi_1".to_owned(),
                amount_minor: invoice.amount_minor,
                refunded_minor: 0,
            }];
            (
                (),
                vec![NewEntry {
                    kind: LedgerKind::Payment,
                    method: Some(PaymentMethod::Stripe),
                    amount_minor: invoice.amount_minor,
                    reference: None,
                }],
            )
        };
        let first = store
            .update_invoice(record.id, Some("evt_1"), 10, pay)
            .expect("update");
        assert!(matches!(first, InvoiceUpdate::Applied { .. }));
        let again = store
            .update_invoice(record.id, Some("evt_1"), 11, pay)
            .expect("update");
        assert_eq!(again, InvoiceUpdate::Duplicate);
        assert!(store.stripe_event_seen("evt_1").expect("seen"));
        assert_eq!(
            store
                .invoice_by_payment("pi_1")
                .expect("index")
                .map(|invoice| invoice.id),
            Some(record.id)
        );
        store
            .record_payout(org, 1000, record.currency, "transfer 1".to_owned(), 12)
            .expect("payout");
        let ledger = store.ledger_of_org(org).expect("ledger");
        assert_eq!(
            ledger.iter().map(|entry| entry.kind).collect::<Vec<_>>(),
            [LedgerKind::Payment, LedgerKind::Payout]
        );
        assert!(ledger[0].seq < ledger[1].seq);
        assert!(
            store
                .ledger_of_org(Id::from_bytes([2; 16]))
                .expect("other")
                .is_empty()
        );
        let missing = store
            .update_invoice(Id::from_bytes([3; 16]), None, 13, pay)
            .expect("update");
        assert_eq!(missing, InvoiceUpdate::Missing);
        assert!(
            store
                .record_early_refund("evt_2", "pi_9", 500, 14)
                .expect("early")
        );
        assert!(
            !store
                .record_early_refund("evt_2", "pi_9", 900, 15)
                .expect("replay")
        );
        assert!(
            store
                .record_early_refund("evt_3", "pi_9", 300, 16)
                .expect("later")
        );
        assert_eq!(store.early_refund("pi_9").expect("read"), Some(500));
    }
}
