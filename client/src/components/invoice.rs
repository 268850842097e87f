//! An invoice as its payer sees it: what is asked, by whom, where it stands, and what to do
//! (pay by card, or pay the payee by other means when this relay takes no cards). It says
//! plainly that nothing can be decrypted before payment. The click handler belongs to the page.

use leptos::prelude::*;
use shared::money::format_amount;
use shared::wire::{InvoiceStatus, InvoiceView};

/// Words for an invoice's state, for payers and payees alike.
pub fn status_text(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Open => "waiting for payment",
        InvoiceStatus::Processing => "payment processing",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Refunded => "refunded",
    }
}

#[component]
pub fn InvoiceBox(
    invoice: InvoiceView,
    /// Whether this relay takes card payments.
    card_payments: bool,
    /// Set while the page waits for the card processor's confirmation.
    #[prop(into)]
    waiting: Signal<bool>,
    /// Starts the card payment.
    on_pay: Callback<()>,
    #[prop(into)] busy: Signal<bool>,
) -> impl IntoView {
    let amount = format_amount(invoice.amount_minor, invoice.currency);
    let status = invoice.status;
    let pay_label = format!("Pay {amount} by card");
    view! {
        <section class="invoice" data-testid="invoice" aria-label="Invoice">
            <h2>"Payment before release"</h2>
            <dl class="facts">
                <dt>"Amount"</dt>
                <dd data-testid="invoice-amount">{amount.clone()}</dd>
                <dt>"For"</dt>
                <dd>{invoice.description.clone()}</dd>
                <dt>"To"</dt>
                <dd>{invoice.payee.clone()}</dd>
                <dt>"Status"</dt>
                <dd data-testid="invoice-status">{status_text(status)}</dd>
            </dl>
            {match status {
                InvoiceStatus::Paid => view! {
                    <p class="banner banner-ok">"Paid. You can now open the documents with the one-time password."</p>
                }.into_any(),
                InvoiceStatus::Refunded => view! {
                    <p class="banner banner-warn" role="alert" data-testid="invoice-locked">
                        "The payment was refunded, so this link is locked. Contact the sender."
                    </p>
                }.into_any(),
                InvoiceStatus::Processing => view! {
                    <p class="banner banner-warn" role="status" data-testid="payment-waiting">
                        "Your payment is being processed. This page continues by itself as soon as it is confirmed."
                    </p>
                }.into_any(),
                InvoiceStatus::Open => view! {
                    <p class="banner banner-warn" data-testid="pay-first">
                        "Nothing can be decrypted until this invoice is paid, not even with the right one-time password."
                    </p>
                    <Show when=move || waiting.get()>
                        <p class="progress" role="status" data-testid="payment-waiting">
                            "Waiting for the card processor to confirm your payment…"
                        </p>
                    </Show>
                    {if card_payments {
                        let label = pay_label.clone();
                        view! {
                            <button type="button" data-testid="pay" disabled=move || busy.get() || waiting.get()
                                on:click=move |_| on_pay.run(())>{label}</button>
                            <p class="muted">"You pay on the card processor's page and come back here; the link stays in this tab."</p>
                        }.into_any()
                    } else {
                        view! {
                            <p data-testid="manual-only">
                                "This relay takes no card payments. Pay the sender as they tell you (bank transfer, cheque); once they mark the invoice paid, this page continues by itself."
                            </p>
                        }.into_any()
                    }}
                }.into_any(),
            }}
        </section>
    }
}
