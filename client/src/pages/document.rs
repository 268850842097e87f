//! One document, `/app/documents/<id>`: what it is, from whom, until when and who may read it.
//! Its readers open it (the wrapped key is unwrapped with their private key in this browser)
//! and save each file decrypted; everyone else in the organisations involved sees the details
//! and a lock (limited viewing). A fulfilment behind an invoice is paid first (by card, or the
//! provider marks it paid); a transfer's sender may withdraw it until the receiver opens it.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use shared::ids::Id;
use shared::wire::{DocumentKind, DocumentStatus, DocumentView, InvoiceStatus};

use crate::api;
use crate::auth::use_auth;
use crate::browser::{self, format_bytes, format_stored_bytes, format_time};
use crate::components::invoice::InvoiceBox;
use crate::documents::{self, OpenedDocument};
use crate::receive::{self, ChunkSource, SaveTo};
use crate::routes::Page;

#[component]
pub fn Document() -> impl IntoView {
    let auth = use_auth();
    let params = use_params_map();
    let id = params.with_untracked(|params| params.get("id").and_then(|id| Id::parse(&id).ok()));
    let returning = browser::query_param("checkout").is_some_and(|value| value != "cancelled");
    let view_of = RwSignal::new(None::<Result<DocumentView, String>>);
    let opened = RwSignal::new_local(None::<Rc<OpenedDocument>>);
    let saved = RwSignal::new(Vec::<String>::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let waiting = RwSignal::new(returning);

    let load = move || {
        let (Some(api), Some(id)) = (auth.api.get_untracked(), id) else {
            return;
        };
        spawn_local(async move {
            for _ in 0..120 {
                let answer = api.document(id).await.map_err(|e| e.to_string());
                let unpaid = answer
                    .as_ref()
                    .ok()
                    .and_then(|view| view.invoice.as_ref())
                    .is_some_and(|invoice| {
                        matches!(
                            invoice.status,
                            InvoiceStatus::Open | InvoiceStatus::Processing
                        )
                    });
                view_of.set(Some(answer));
                if !(unpaid && waiting.get_untracked()) {
                    break;
                }
                browser::sleep(1500).await;
            }
            waiting.set(false);
        });
    };
    Effect::new(move |_| {
        if auth.api.with(Option::is_some) {
            load();
        }
    });

    let open = move |_| {
        let (Some(api), Some(id)) = (auth.api.get_untracked(), id) else {
            return;
        };
        let Some(private) = auth.private_key() else {
            error.set(Some("unlock your keys on the dashboard first".to_owned()));
            return;
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match documents::open(&api, id, &private).await {
                Ok(document) => opened.set(Some(Rc::new(document))),
                Err(failure) => error.set(Some(failure.to_string())),
            }
            busy.set(false);
        });
    };

    let save = move |index: usize| {
        let Some(document) = opened.get_untracked() else {
            return;
        };
        error.set(None);
        spawn_local(async move {
            let source = ChunkSource::Document {
                id: document.id,
                link_token: None,
            };
            let outcome = receive::save_file(
                &document.key,
                &document.manifest,
                &source,
                index,
                SaveTo::Download,
                |_| {},
            )
            .await;
            match outcome {
                Ok(()) => saved.update(|names| {
                    if let Some(file) = document.manifest.files.get(index) {
                        names.push(file.name.clone());
                    }
                }),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let pay = move |()| {
        let Some(Ok(view)) = view_of.get_untracked() else {
            return;
        };
        let Some(invoice) = view.invoice else { return };
        busy.set(true);
        spawn_local(async move {
            match api::checkout(invoice.id).await {
                Ok(answer) => {
                    browser::go_to(&answer.url);
                }
                Err(failure) => {
                    busy.set(false);
                    error.set(Some(failure.to_string()));
                }
            }
        });
    };

    let revoke = move |_| {
        let (Some(api), Some(id)) = (auth.api.get_untracked(), id) else {
            return;
        };
        spawn_local(async move {
            match api.revoke_document(id).await {
                Ok(view) => view_of.set(Some(Ok(view))),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section class="receive">
            <h1>"Document"</h1>
            {move || match view_of.get() {
                None => view! { <p class="muted">{move || if auth.checked.get() && auth.api.with(Option::is_none) { "Log in to see this document." } else { "Loading…" }}</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert">{problem}</p> }.into_any(),
                Some(Ok(view)) => {
                    let payable = view.invoice.as_ref().is_some_and(|invoice| invoice.status != InvoiceStatus::Paid);
                    let can_open = view.readable && view.status == DocumentStatus::Ready && !payable;
                    let can_revoke = view.outgoing && view.kind == DocumentKind::Transfer
                        && view.status == DocumentStatus::Ready && view.opened_at.is_none();
                    let readers = view.readers.join(", ");
                    view! {
                        <dl class="facts" data-testid="document-facts">
                            <dt>"What"</dt><dd>{kind_text(view.kind)}</dd>
                            <dt>"From"</dt><dd>{view.from.clone()} {view.uploaded_by.clone().map(|name| format!(" ({name})"))}</dd>
                            <dt>"For"</dt><dd>{view.organisation.clone()}</dd>
                            <dt>"Contents"</dt><dd>{format!("{} file(s), {}", view.files, format_stored_bytes(view.size))}</dd>
                            <dt>"Status"</dt><dd data-testid="document-status">{status_text(view.status)}</dd>
                            <dt>"Expires"</dt><dd>{format_time(view.expires_at)}</dd>
                            <dt>"Readable by"</dt><dd data-testid="document-readers">{readers.clone()}</dd>
                        </dl>
                        {(!view.readable).then(|| view! {
                            <p class="banner banner-warn" data-testid="locked">
                                <span aria-hidden="true">"🔒 "</span>"Limited viewing: only " {readers.clone()} " can read this document. You see its details only."
                            </p>
                        })}
                        {view.invoice.clone().filter(|_| view.readable).map(|invoice| view! {
                            <InvoiceBox invoice=invoice card_payments=view.card_payments waiting=waiting
                                on_pay=Callback::new(pay) busy=busy />
                        })}
                        <Show when=move || can_open && opened.with(Option::is_none) && !auth.is_unlocked()>
                            <crate::components::unlock::Unlock />
                        </Show>
                        <Show when=move || can_open && opened.with(Option::is_none) && auth.is_unlocked()>
                            <button type="button" data-testid="open-document" disabled=move || busy.get() on:click=open>"Open"</button>
                        </Show>
                        <Show when=move || can_revoke>
                            <button type="button" class="secondary" data-testid="revoke-document" on:click=revoke>"Withdraw (nobody there has opened it)"</button>
                        </Show>
                    }.into_any()
                }
            }}
            {move || opened.get().map(|document| {
                let files = document.manifest.files.iter().map(|file| (file.name.clone(), file.size)).collect::<Vec<_>>();
                let note = document.manifest.note.clone();
                view! {
                    <div class="opened" data-testid="opened">
                        {note.map(|note| view! { <blockquote class="note" data-testid="note">{note}</blockquote> })}
                        <ul class="file-list" data-testid="files">
                            {files.into_iter().enumerate().map(|(index, (name, size))| {
                                let shown = name.clone();
                                view! {
                                    <li>
                                        <span class="file-name" data-testid="file-name">{shown}</span>
                                        " · " {format_bytes(size)} " "
                                        <span class="file-state">{move || if saved.with(|names| names.contains(&name)) { "saved" } else { "" }}</span>
                                        <button type="button" class="link-button" data-testid="save-file" on:click=move |_| save(index)>"Save"</button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </div>
                }
            })}
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="document-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <p><a href=Page::Inbox.path()>"Back to the inbox"</a></p>
        </section>
    }
}

pub fn kind_text(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Fulfilment => "documents answering a request",
        DocumentKind::Authorization => "a request's authorisation",
        DocumentKind::Portal => "a portal upload",
        DocumentKind::Transfer => "a chart transfer",
    }
}

pub fn status_text(status: DocumentStatus) -> &'static str {
    match status {
        DocumentStatus::Uploading => "uploading",
        DocumentStatus::Ready => "ready",
        DocumentStatus::Expired => "expired (deleted)",
        DocumentStatus::Revoked => "withdrawn (deleted)",
    }
}
