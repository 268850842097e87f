//! The inbox and sent box, `/app/inbox`: everything the organisation received (request
//! answers, authorisations asked of it, portal uploads, chart transfers) or provided, with
//! filters by kind, status and "readable by me"; what the viewer may not read says "Limited
//! viewing".

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use shared::wire::{DocumentKind, DocumentStatus, DocumentView};

use crate::auth::use_auth;
use crate::browser::{format_stored_bytes, format_time};
use crate::components::limited::LimitedViewing;
use crate::pages::document::{kind_text, status_text};
use crate::routes::{self, Page};

#[component]
pub fn Inbox() -> impl IntoView {
    let auth = use_auth();
    let sent = RwSignal::new(false);
    let kind = RwSignal::new(String::new());
    let only_readable = RwSignal::new(false);
    let only_live = RwSignal::new(false);
    let documents = RwSignal::new(None::<Result<Vec<DocumentView>, String>>);
    Effect::new(move |_| {
        let which = sent.get();
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                documents.set(Some(api.documents(which).await.map_err(|e| e.to_string())));
            });
        }
    });
    let shown = move |document: &DocumentView| {
        let kind_matches = match kind.get().as_str() {
            "fulfilment" => document.kind == DocumentKind::Fulfilment,
            "authorization" => document.kind == DocumentKind::Authorization,
            "portal" => document.kind == DocumentKind::Portal,
            "transfer" => document.kind == DocumentKind::Transfer,
            _ => true,
        };
        kind_matches
            && (!only_readable.get() || document.readable)
            && (!only_live.get() || document.status == DocumentStatus::Ready)
    };
    view! {
        <section>
            <h1>{move || if sent.get() { "Sent documents" } else { "Inbox" }}</h1>
            <p class="links">
                <button type="button" class="link-button" data-testid="show-inbox" on:click=move |_| sent.set(false)>"Received"</button>
                <button type="button" class="link-button" data-testid="show-sent" on:click=move |_| sent.set(true)>"Sent"</button>
                " · " <A href=Page::Transfer.path()>"New chart transfer"</A>
                " · " <A href=Page::Requests.path()>"Requests"</A>
            </p>
            <div class="inline-form">
                <label>"Kind"
                    <select name="kind" on:change=move |event| kind.set(event_target_value(&event))>
                        <option value="">"all"</option>
                        <option value="fulfilment">"answers to requests"</option>
                        <option value="authorization">"authorisations"</option>
                        <option value="portal">"portal uploads"</option>
                        <option value="transfer">"chart transfers"</option>
                    </select>
                </label>
                <label class="checkbox"><input type="checkbox" name="readable" on:change=move |event| only_readable.set(event_target_checked(&event)) />"only what I can read"</label>
                <label class="checkbox"><input type="checkbox" name="live" on:change=move |event| only_live.set(event_target_checked(&event)) />"hide expired and withdrawn"</label>
            </div>
            {move || match documents.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert">{problem}</p> }.into_any(),
                Some(Ok(list)) => {
                    let rows: Vec<DocumentView> = list.into_iter().filter(|document| shown(document)).collect();
                    if rows.is_empty() {
                        return view! { <p class="muted" data-testid="inbox-empty">"Nothing here."</p> }.into_any();
                    }
                    view! {
                        <table data-testid="documents">
                            <thead><tr><th></th><th>"What"</th><th>"From"</th><th>"For"</th><th>"When"</th><th>"Files"</th><th>"Status"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|document| view! {
                                    <tr data-document=document.id.to_string()>
                                        <td>{(!document.readable).then(|| view! { <LimitedViewing /> })}</td>
                                        <td><A href=routes::document(document.id)>{kind_text(document.kind)}</A></td>
                                        <td>{document.from.clone()}</td>
                                        <td>{document.organisation.clone()}</td>
                                        <td>{format_time(document.created_at)}</td>
                                        <td>{format!("{} · {}", document.files, format_stored_bytes(document.size))}</td>
                                        <td data-testid="document-row-status">{status_text(document.status)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }
            }}
        </section>
    }
}
