//! One request, `/app/requests/<id>`, for both sides: what is asked, by whom, until when and
//! where it stands; its authorisation and the documents that answer it (each opens on its own
//! page, for its readers). The requester closes it; the organisation asked answers it with
//! files encrypted to the requester and the requester's owner (keys checked against this
//! browser's pins), optionally asking for payment first. A finished answer replaces its form
//! (a second click cannot upload it twice); "Upload more" starts an empty one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use shared::ids::Id;
use shared::money::{Currency, format_amount, parse_amount};
use shared::wire::{self, RequestStatus, RequestView};

use crate::auth::use_auth;
use crate::browser::{format_stored_bytes, format_time};
use crate::components::file_picker::FilePicker;
use crate::components::invoice::status_text as invoice_status;
use crate::components::key_warning::KeyWarningBox;
use crate::components::limited::LimitedViewing;
use crate::components::resume_upload::ResumeUpload;
use crate::documents::{self, Contents, ProvideError};
use crate::pages::requests::status_text;
use crate::pins::KeyWarning;
use crate::routes::{self, Page};

#[component]
pub fn Request() -> impl IntoView {
    let auth = use_auth();
    let params = use_params_map();
    let id = params.with_untracked(|params| params.get("id").and_then(|id| Id::parse(&id).ok()));
    let request = RwSignal::new(None::<Result<RequestView, String>>);
    let reload = RwSignal::new(0_u32);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        reload.track();
        if let (Some(api), Some(id)) = (auth.api.get(), id) {
            spawn_local(async move {
                request.set(Some(api.request(id).await.map_err(|e| e.to_string())));
            });
        }
    });
    let answerable = Memo::new(move |_| {
        request.with(|request| {
            matches!(request, Some(Ok(view)) if !view.outgoing && view.status != RequestStatus::Closed)
        })
    });
    let close = move |_| {
        let (Some(api), Some(id)) = (auth.api.get_untracked(), id) else {
            return;
        };
        spawn_local(async move {
            match api.close_request(id).await {
                Ok(view) => request.set(Some(Ok(view))),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    view! {
        <section>
            <h1>"Request"</h1>
            {move || match request.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert">{problem}</p> }.into_any(),
                Some(Ok(view)) => {
                    let closable = view.outgoing && view.status != RequestStatus::Closed;
                    view! {
                        <dl class="facts" data-testid="request-facts">
                            <dt>"From"</dt>
                            <dd>{view.organisation.clone()} " (" {view.requester.clone()} ") "
                                {if view.organisation_verified { "· verified by this relay's operator" } else { "· not verified by this relay's operator" }}</dd>
                            <dt>"To"</dt><dd>{view.target.clone().unwrap_or_else(|| "anyone with the link".to_owned())}</dd>
                            <dt>"Asks for"</dt><dd class="note" data-testid="request-description">{view.description.clone()}</dd>
                            <dt>"Due"</dt><dd>{format_time(view.due_at)}</dd>
                            <dt>"Status"</dt><dd data-testid="request-status">{status_text(view.status)}</dd>
                        </dl>
                        {view.authorization.clone().map(|document| view! {
                            <p data-testid="authorization">"Authorisation: "
                                <A href=routes::document(document.id)>{format!("{} file(s), {}", document.files, format_stored_bytes(document.size))}</A>
                                {(!document.readable).then(|| view! { " " <LimitedViewing /> })}
                            </p>
                        })}
                        <h2>"Answers"</h2>
                        {if view.fulfilments.is_empty() {
                            view! { <p class="muted">"None yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul data-testid="fulfilments">
                                    {view.fulfilments.iter().map(|document| view! {
                                        <li>
                                            <A href=routes::document(document.id)>{format!("{} file(s), {}, {}", document.files, format_stored_bytes(document.size), format_time(document.created_at))}</A>
                                            " from " {document.from.clone()}
                                            {(!document.readable).then(|| view! { " · " <LimitedViewing /> })}
                                            {document.invoice.clone().map(|invoice| format!(" · {} · {}", format_amount(invoice.amount_minor, invoice.currency), invoice_status(invoice.status)))}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                        <Show when=move || closable>
                            <button type="button" class="secondary" data-testid="close-request" on:click=close>"Close the request"</button>
                        </Show>
                    }.into_any()
                }
            }}
            // Outside the view above, so that reloading the request keeps the form's state.
            <Show when=move || answerable.get()>
                {move || id.map(|id| view! {
                    <Answer id=id on_done=Callback::new(move |()| reload.update(|n| *n += 1)) />
                })}
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <p><A href=Page::Requests.path()>"All requests"</A></p>
        </section>
    }
}

/// The provider's answer: files, a note, optionally an invoice.
#[component]
fn Answer(id: Id, on_done: Callback<()>) -> impl IntoView {
    let auth = use_auth();
    let files = RwSignal::new_local(Vec::<web_sys::File>::new());
    let note = RwSignal::new(String::new());
    let charge = RwSignal::new(false);
    let amount = RwSignal::new(String::new());
    let currency = RwSignal::new("EUR".to_owned());
    let description = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let warning = RwSignal::new(None::<KeyWarning>);
    let reservation = RwSignal::new(None::<wire::DocumentCreated>);
    let done = RwSignal::new(false);

    let fill = move || {
        let (Some(api), Some(created)) = (auth.api.get_untracked(), reservation.get_untracked())
        else {
            return;
        };
        let contents = Contents {
            files: files.get_untracked(),
            note: Some(note.get_untracked()),
        };
        warning.set(None);
        busy.set(true);
        spawn_local(async move {
            let check = documents::pinned_for(&api);
            let outcome =
                documents::check_and_provide(&contents, &created, Some(api), check, None, |_| {})
                    .await;
            busy.set(false);
            match outcome {
                Ok(_) => {
                    // Uploaded: nothing of it stays in the form to be sent again.
                    files.set(Vec::new());
                    note.set(String::new());
                    charge.set(false);
                    amount.set(String::new());
                    currency.set("EUR".to_owned());
                    description.set(String::new());
                    reservation.set(None);
                    done.set(true);
                    on_done.run(());
                }
                Err(ProvideError::Keys(stop)) => warning.set(Some(stop)),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let sizes: Vec<u64> =
            files.with_untracked(|files| files.iter().map(crate::send::stream_size).collect());
        if sizes.is_empty() {
            error.set(Some("choose at least one file".to_owned()));
            return;
        }
        let invoice = if charge.get_untracked() {
            let terms = Currency::parse(&currency.get_untracked()).and_then(|currency| {
                parse_amount(&amount.get_untracked(), currency).map(|minor| wire::InvoiceTerms {
                    amount_minor: minor,
                    currency,
                    description: description.get_untracked(),
                })
            });
            match terms {
                Ok(terms) => Some(terms),
                Err(problem) => {
                    error.set(Some(problem.to_string()));
                    return;
                }
            }
        } else {
            None
        };
        busy.set(true);
        error.set(None);
        done.set(false);
        spawn_local(async move {
            match api
                .fulfil(
                    id,
                    &wire::FulfilRequest {
                        files: sizes,
                        invoice,
                    },
                )
                .await
            {
                Ok(created) => {
                    reservation.set(Some(created));
                    fill();
                }
                Err(failure) => {
                    busy.set(false);
                    error.set(Some(failure.to_string()));
                }
            }
        });
    };

    // An answer this tab started here before a reload: it goes on once the same files are
    // picked again.
    let interrupted = RwSignal::new(documents::interrupted_here());
    let resumed = Callback::new(move |_: wire::DocumentView| {
        done.set(true);
        on_done.run(());
    });

    view! {
        <h2>"Answer this request"</h2>
        <p class="muted">"What you upload is encrypted to the requester and their organisation's owner only."</p>
        <ResumeUpload interrupted=interrupted on_done=resumed />
        <Show when=move || !done.get() && interrupted.with(Option::is_none)>
            <form class="composer" data-testid="answer-form" on:submit=submit>
                <FilePicker files=files name="answer-files" />
                <label>"Note (optional, encrypted)" <textarea name="answer-note" rows="2" bind:value=note></textarea></label>
                <label class="checkbox"><input type="checkbox" name="answer-charge" prop:checked=move || charge.get() on:change=move |event| charge.set(event_target_checked(&event)) />"Ask for payment before they can open it"</label>
                <Show when=move || charge.get()>
                    <fieldset class="inline-form">
                        <label>"Amount" <input type="text" name="answer-amount" inputmode="decimal" bind:value=amount /></label>
                        <label>"Currency" <input type="text" name="answer-currency" maxlength="3" size="4" bind:value=currency /></label>
                        <label>"For (not encrypted: the relay's operator can read it)" <input type="text" name="answer-invoice-description" maxlength="200" bind:value=description /></label>
                    </fieldset>
                </Show>
                <button type="submit" disabled=move || busy.get()>"Encrypt and upload"</button>
            </form>
        </Show>
        {move || warning.get().map(|stop| view! {
            <KeyWarningBox warning=stop me=auth.api.get_untracked().map(|api| api.session().user.id)
                on_accept=Callback::new(move |()| fill()) />
        })}
        <Show when=move || done.get()>
            <p class="banner banner-ok" data-testid="answer-done">"Uploaded. The requester can open it now."</p>
            <button type="button" class="secondary" data-testid="answer-more" on:click=move |_| { error.set(None); done.set(false); }>"Upload more for this request"</button>
        </Show>
        <Show when=move || error.get().is_some()>
            <p class="status-error" role="alert" data-testid="answer-error">{move || error.get().unwrap_or_default()}</p>
        </Show>
    }
}
