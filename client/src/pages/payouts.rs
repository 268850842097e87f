//! The owner's money page, `/app/payouts`: where the operator should pay out card payments
//! (payout details), the payout report per currency (collected by card, collected directly,
//! refunded, paid out, owed), recording a payout received, and the append-only ledger with a
//! CSV export. Amounts are integers in minor units all the way; the page only formats them.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::money::{self, Currency, format_amount, format_signed};
use shared::wire::{LedgerEntryView, LedgerKind, PaymentMethod, PayoutDetails, PayoutReport};

use crate::auth::use_auth;
use crate::export::{csv_field, download_href, utc};

#[component]
pub fn Payouts() -> impl IntoView {
    let auth = use_auth();
    let report = RwSignal::new(None::<Result<PayoutReport, String>>);
    let reload = RwSignal::new(0_u32);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let holder = RwSignal::new(String::new());
    let account = RwSignal::new(String::new());
    let bank = RwSignal::new(String::new());
    let notes = RwSignal::new(String::new());
    let payout_amount = RwSignal::new(String::new());
    let payout_currency = RwSignal::new("EUR".to_owned());
    let payout_reference = RwSignal::new(String::new());

    Effect::new(move |_| {
        reload.track();
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                let answer = api.payouts().await.map_err(|e| e.to_string());
                if let Ok(loaded) = &answer {
                    holder.set(loaded.details.account_holder.clone());
                    account.set(loaded.details.account.clone());
                    bank.set(loaded.details.bank.clone());
                    notes.set(loaded.details.notes.clone());
                }
                report.set(Some(answer));
            });
        }
    });

    let save_details = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let details = PayoutDetails {
            account_holder: holder.get_untracked(),
            account: account.get_untracked(),
            bank: bank.get_untracked(),
            notes: notes.get_untracked(),
        };
        error.set(None);
        saved.set(false);
        spawn_local(async move {
            match api.set_payout_details(&details).await {
                Ok(_) => saved.set(true),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let record = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let parsed = Currency::parse(&payout_currency.get_untracked()).and_then(|currency| {
            money::parse_amount(&payout_amount.get_untracked(), currency)
                .map(|minor| (minor, currency))
        });
        let (amount_minor, currency) = match parsed {
            Ok(parsed) => parsed,
            Err(problem) => {
                error.set(Some(problem.to_string()));
                return;
            }
        };
        let payout = shared::wire::RecordPayoutRequest {
            amount_minor,
            currency,
            reference: payout_reference.get_untracked(),
        };
        error.set(None);
        spawn_local(async move {
            match api.record_payout(&payout).await {
                Ok(_) => {
                    payout_amount.set(String::new());
                    payout_reference.set(String::new());
                    reload.update(|n| *n += 1);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section class="payouts">
            <h1>"Payments and payouts"</h1>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="payouts-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || match report.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert">{problem}</p> }.into_any(),
                Some(Ok(report)) => {
                    let csv = ledger_csv(&report.ledger);
                    view! {
                        {(!report.card_payments).then(|| view! {
                            <p class="banner banner-warn" data-testid="no-cards">
                                "This relay takes no card payments: recipients pay you directly and you mark invoices paid by hand."
                            </p>
                        })}
                        <h2>"What you are owed"</h2>
                        {if report.lines.is_empty() {
                            view! { <p class="muted">"No payments yet."</p> }.into_any()
                        } else {
                            view! {
                                <table data-testid="payout-report">
                                    <thead><tr><th>"Currency"</th><th>"Collected by card"</th><th>"Refunded"</th><th>"Paid out"</th><th>"Owed to you"</th><th>"Paid to you directly"</th></tr></thead>
                                    <tbody>
                                        {report.lines.iter().map(|line| view! {
                                            <tr data-currency=line.currency.code().to_owned()>
                                                <td>{line.currency.code().to_owned()}</td>
                                                <td>{format_amount(line.collected_by_card, line.currency)}</td>
                                                <td>{format_amount(line.refunded, line.currency)}</td>
                                                <td>{format_amount(line.paid_out, line.currency)}</td>
                                                <td data-testid="owed">{format_signed(i128::from(line.owed), line.currency)}</td>
                                                <td>{format_amount(line.collected_directly, line.currency)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                        <h2>"Ledger"</h2>
                        <p><a href=download_href(&csv, "text/csv") download="sealpost-ledger.csv" data-testid="ledger-csv">"Export as CSV"</a></p>
                        <table data-testid="ledger">
                            <thead><tr><th>"#"</th><th>"When (UTC)"</th><th>"What"</th><th>"Amount"</th><th>"Reference"</th></tr></thead>
                            <tbody>
                                {report.ledger.iter().map(|entry| view! {
                                    <tr>
                                        <td>{entry.seq}</td>
                                        <td>{utc(entry.time)}</td>
                                        <td>{kind_text(entry)}</td>
                                        <td>{format_amount(entry.amount_minor, entry.currency)}</td>
                                        <td>{entry.reference.clone().unwrap_or_default()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }
            }}
            <h2>"Record a payout you received"</h2>
            <form class="inline-form" on:submit=record data-testid="record-payout">
                <label>"Amount" <input type="text" name="payout-amount" inputmode="decimal" required bind:value=payout_amount /></label>
                <label>"Currency" <input type="text" name="payout-currency" maxlength="3" size="4" required bind:value=payout_currency /></label>
                <label>"Reference" <input type="text" name="payout-reference" maxlength="120" required bind:value=payout_reference /></label>
                <button type="submit">"Record payout"</button>
            </form>
            <h2>"Payout details"</h2>
            <p class="muted">"Where the relay's operator pays out what card payments collected for you. The operator sees these."</p>
            <form class="payout-details" on:submit=save_details>
                <label>"Account holder" <input type="text" name="account-holder" maxlength="140" bind:value=holder /></label>
                <label>"IBAN or account number" <input type="text" name="account" maxlength="64" bind:value=account /></label>
                <label>"Bank (BIC, sort code or routing number)" <input type="text" name="bank" maxlength="140" bind:value=bank /></label>
                <label>"Notes" <textarea name="notes" rows="2" maxlength="1000" bind:value=notes></textarea></label>
                <button type="submit">"Save payout details"</button>
                <Show when=move || saved.get()>
                    <p class="status-ok" role="status" data-testid="details-saved">"Saved."</p>
                </Show>
            </form>
        </section>
    }
}

fn kind_text(entry: &LedgerEntryView) -> &'static str {
    match (entry.kind, entry.method) {
        (LedgerKind::Payment, Some(PaymentMethod::Manual)) => "payment (marked by hand)",
        (LedgerKind::Payment, _) => "card payment",
        (LedgerKind::Refund, _) => "refund",
        (LedgerKind::Payout, _) => "payout",
    }
}

/// The ledger as CSV: one row per entry, amounts with exactly their currency's decimals.
fn ledger_csv(entries: &[LedgerEntryView]) -> String {
    let mut csv = String::from("seq,time_utc,kind,method,invoice,amount,currency,reference\r\n");
    for entry in entries {
        let kind = match entry.kind {
            LedgerKind::Payment => "payment",
            LedgerKind::Refund => "refund",
            LedgerKind::Payout => "payout",
        };
        let method = match entry.method {
            Some(PaymentMethod::Stripe) => "card",
            Some(PaymentMethod::Manual) => "manual",
            None => "",
        };
        let row = [
            entry.seq.to_string(),
            utc(entry.time),
            kind.to_owned(),
            method.to_owned(),
            entry.invoice.map(|id| id.to_string()).unwrap_or_default(),
            money::format_number(i128::from(entry.amount_minor), entry.currency),
            entry.currency.code().to_owned(),
            entry.reference.clone().unwrap_or_default(),
        ];
        let fields: Vec<String> = row.iter().map(|field| csv_field(field)).collect();
        csv.push_str(&fields.join(","));
        csv.push_str("\r\n");
    }
    csv
}
