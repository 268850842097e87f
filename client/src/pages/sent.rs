//! The sender's "Sent" list: each send's status (uploading, waiting, opened, delivered,
//! destroyed, expired, revoked), opens used and allowed, expiry, and a revoke button for what
//! nobody opened yet. Sends behind an invoice show its amount and state, and the payee can
//! mark it paid by hand.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use shared::money::format_amount;
use shared::wire::{InvoiceStatus, SendStatus, SendView};

use crate::auth::use_auth;
use crate::browser::{format_stored_bytes, format_time};
use crate::components::invoice::status_text as invoice_status;
use crate::components::mark_paid::MarkPaid;
use crate::routes::Page;

#[component]
pub fn Sent() -> impl IntoView {
    let auth = use_auth();
    let sends = RwSignal::new(None::<Result<Vec<SendView>, String>>);
    let reload = RwSignal::new(0_u32);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        reload.track();
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                sends.set(Some(api.sends().await.map_err(|e| e.to_string())));
            });
        }
    });
    let revoke = move |id: shared::ids::Id| {
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        error.set(None);
        spawn_local(async move {
            match api.revoke_send(id).await {
                Ok(_) => reload.update(|n| *n += 1),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    view! {
        <section>
            <h1>"Sent"</h1>
            <p><A href=Page::Send.path()>"Send documents"</A></p>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || match sends.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert">{problem}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="muted">"Nothing sent yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <table data-testid="sent-table">
                        <thead><tr><th>"Sent"</th><th>"To"</th><th>"Files"</th><th>"Status"</th><th>"Payment"</th><th>"Opens"</th><th>"Expires"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|send| {
                                let id = send.id;
                                let revocable = matches!(send.status, SendStatus::Waiting | SendStatus::Uploading);
                                view! {
                                    <tr data-send=id.to_string()>
                                        <td>{format_time(send.created_at)}</td>
                                        <td>{send.recipient_email.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                        <td>{format!("{} · {}", send.files, format_stored_bytes(send.size))}</td>
                                        <td data-testid="send-status" class=status_class(send.status)>{status_text(send.status)}</td>
                                        <td data-testid="send-payment">
                                            {send.invoice.clone().map(|invoice| {
                                                let unpaid = invoice.status != InvoiceStatus::Paid;
                                                view! {
                                                    <span>{format_amount(invoice.amount_minor, invoice.currency)} " · " {invoice_status(invoice.status)}</span>
                                                    <Show when=move || unpaid && revocable_or_open(send.status)>
                                                        <MarkPaid invoice=invoice.id on_done=Callback::new(move |()| reload.update(|n| *n += 1)) />
                                                    </Show>
                                                }
                                            })}
                                        </td>
                                        <td>{format!("{} of {}", send.opens, send.max_opens)}</td>
                                        <td>{format_time(send.expires_at)}</td>
                                        <td>
                                            <Show when=move || revocable>
                                                <button type="button" class="secondary" data-testid="revoke" on:click=move |_| revoke(id)>"Revoke"</button>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
    }
}

/// Whether the link can still be opened once paid.
fn revocable_or_open(status: SendStatus) -> bool {
    matches!(status, SendStatus::Waiting | SendStatus::Opened)
}

fn status_text(status: SendStatus) -> &'static str {
    match status {
        SendStatus::Uploading => "uploading",
        SendStatus::Waiting => "waiting",
        // Opened, and no receipt: the recipient has not (yet) saved every file.
        SendStatus::Opened => "opened, not delivered",
        SendStatus::Delivered => "delivered",
        SendStatus::Destroyed => "destroyed",
        SendStatus::Expired => "expired",
        SendStatus::Revoked => "revoked",
    }
}

fn status_class(status: SendStatus) -> &'static str {
    match status {
        SendStatus::Delivered => "status-ok",
        SendStatus::Destroyed | SendStatus::Expired | SendStatus::Revoked => "muted",
        SendStatus::Uploading | SendStatus::Waiting | SendStatus::Opened => "",
    }
}
