//! A request by link, `/r/<id>#<secret>.<digest>`, for a provider without an account: the
//! fragment's secret yields the upload token (shown to the relay) and the key that opens the
//! authorisation; the fragment's digest names the keys answers must be encrypted to, and this
//! page refuses to encrypt to any other set the relay may serve. The fragment is removed from
//! the address bar once read (kept in this tab for a reload) and never leaves the browser.
//! A request takes one answer: once answered (the relay says so) or closed, the page says so
//! instead of offering the form, and a tab whose upload arrived says that it did, also after a
//! reload.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use shared::crypto::{BundleKey, Manifest, RequestFragment, derive_request_keys};
use shared::ids::Id;
use shared::wire::{self, LinkRequestView, RequestStatus};

use crate::api;
use crate::browser::{self, format_bytes, format_time};
use crate::components::file_picker::FilePicker;
use crate::components::key_warning::KeyWarningBox;
use crate::components::resume_upload::ResumeUpload;
use crate::documents::{self, Contents, ProvideError};
use crate::pages::requests::status_text;
use crate::pins::{self, KeyWarning};
use crate::receive::{self, ChunkSource, SaveTo};
use crate::send::SendError;

/// The relay's code for an upload to a request that was answered already.
const ANSWERED: &str = "fulfilled";

/// What the fragment yields.
struct LinkKeys {
    fragment: RequestFragment,
    token: String,
}

#[component]
pub fn RequestLink() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|params| params.get("id").and_then(|id| Id::parse(&id).ok()));
    let kept = id.map(|id| format!("sealpost.request.{id}"));
    // Set in this tab once its upload arrived.
    let answered_key = StoredValue::new(id.map(|id| format!("sealpost.request.{id}.answered")));
    let fragment =
        browser::take_fragment().or_else(|| kept.as_deref().and_then(browser::recall_in_tab));
    if let (Some(key), Some(text)) = (&kept, &fragment) {
        browser::remember_in_tab(key, text);
    }
    let keys = StoredValue::new_local(fragment.as_deref().and_then(|text| {
        let fragment = RequestFragment::decode(text).ok()?;
        let token = derive_request_keys(&fragment.secret)
            .upload_token()
            .to_string();
        Some(Rc::new(LinkKeys { fragment, token }))
    }));
    let request = RwSignal::new(None::<Result<LinkRequestView, String>>);
    let warning = RwSignal::new(None::<KeyWarning>);
    let files = RwSignal::new_local(Vec::<web_sys::File>::new());
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let progress = RwSignal::new(None::<(u64, u64)>);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(
        answered_key.with_value(|key| key.as_deref().and_then(browser::recall_in_tab).is_some()),
    );
    let authorization = RwSignal::new_local(None::<Rc<(Id, BundleKey, Manifest)>>);

    spawn_local(async move {
        let answer = match (id, keys.get_value()) {
            (Some(id), Some(keys)) => api::link_request(id, &keys.token)
                .await
                .map_err(|e| e.to_string()),
            _ => Err("this link is incomplete: copy the whole link you were sent, including the part after #".to_owned()),
        };
        if let (Ok(view), Some(keys)) = (&answer, keys.get_value())
            && let Err(stop) = pins::key_set_matches(&view.readers, &keys.fragment.key_set_digest)
        {
            warning.set(Some(stop));
        }
        request.set(Some(answer));
    });

    let open_authorization = move |_| {
        let (Some(Ok(view)), Some(keys)) = (request.get_untracked(), keys.get_value()) else {
            return;
        };
        let Some(slot) = view.authorization else {
            return;
        };
        let request_keys = derive_request_keys(&keys.fragment.secret);
        let opened = request_keys
            .authorization_key
            .unwrap(&slot.link_wrapped_key)
            .map_err(|_| "the authorisation does not open with this link".to_owned())
            .and_then(|key| {
                Manifest::open(&key, &slot.manifest)
                    .map(|manifest| (slot.document, key, manifest))
                    .map_err(|error| format!("the authorisation's file list {error}"))
            });
        match opened {
            Ok(opened) => authorization.set(Some(Rc::new(opened))),
            Err(problem) => error.set(Some(problem)),
        }
    };

    let save_authorization = move |index: usize| {
        let (Some(opened), Some(keys)) = (authorization.get_untracked(), keys.get_value()) else {
            return;
        };
        spawn_local(async move {
            let (document, key, manifest) = &*opened;
            let source = ChunkSource::Document {
                id: *document,
                link_token: Some(keys.token.clone()),
            };
            let outcome =
                receive::save_file(key, manifest, &source, index, SaveTo::Download, |_| {}).await;
            if let Err(failure) = outcome {
                error.set(Some(failure.to_string()));
            }
        });
    };

    // An upload this tab started here before a reload: it goes on once the same files are
    // picked again.
    let interrupted = RwSignal::new(documents::interrupted_here());
    let resumed = Callback::new(move |_: wire::DocumentView| {
        answered_key.with_value(|key| {
            if let Some(key) = key {
                browser::remember_in_tab(key, "1");
            }
        });
        done.set(true);
    });

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(id), Some(keys)) = (id, keys.get_value()) else {
            return;
        };
        if warning.with_untracked(Option::is_some) {
            return;
        }
        let contents = Contents {
            files: files.get_untracked(),
            note: Some(note.get_untracked()),
        };
        if contents.files.is_empty() {
            error.set(Some("choose at least one file".to_owned()));
            return;
        }
        let total: u64 = contents.sizes().iter().sum();
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let fulfilment = wire::FulfilRequest {
                files: contents.stream_sizes(),
                invoice: None,
            };
            let created = match api::fulfil_by_link(id, &keys.token, &fulfilment).await {
                Ok(created) => created,
                Err(failure) => {
                    busy.set(false);
                    if failure.code() == Some(ANSWERED) {
                        mark_answered(request);
                    }
                    error.set(Some(failure.to_string()));
                    return;
                }
            };
            // The reservation names the readers again: the same check.
            let digest = keys.fragment.key_set_digest;
            let outcome = documents::check_and_provide(
                &contents,
                &created,
                None,
                |holders| pins::key_set_matches(holders, &digest),
                None,
                |bytes| progress.set(Some((bytes, total))),
            )
            .await;
            busy.set(false);
            match outcome {
                Ok(_) => {
                    files.set(Vec::new());
                    note.set(String::new());
                    answered_key.with_value(|key| {
                        if let Some(key) = key {
                            browser::remember_in_tab(key, "1");
                        }
                    });
                    done.set(true);
                }
                Err(ProvideError::Keys(stop)) => warning.set(Some(stop)),
                Err(ProvideError::Send(SendError::Api(failure)))
                    if failure.code() == Some(ANSWERED) =>
                {
                    mark_answered(request);
                    error.set(Some(failure.to_string()));
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section class="receive">
            <h1>"Documents requested from you"</h1>
            <ResumeUpload interrupted=interrupted on_done=resumed />
            {move || match request.get() {
                None => view! { <p class="muted">"Looking up this request…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert" data-testid="request-link-error">{problem}</p> }.into_any(),
                Some(Ok(view)) => {
                    let status = view.status;
                    let open = matches!(status, RequestStatus::Open | RequestStatus::Overdue);
                    let has_authorization = view.authorization.is_some();
                    let organisation = view.organisation.clone();
                    view! {
                        <dl class="facts" data-testid="request-facts">
                            <dt>"From"</dt>
                            <dd>{view.organisation.clone()} " (" {view.requester.clone()} ") "
                                {if view.organisation_verified {
                                    view! { <span class="status-ok" data-testid="verified">"verified by this relay's operator"</span> }.into_any()
                                } else {
                                    view! { <span class="status-error" data-testid="verified">"not verified by this relay's operator"</span> }.into_any()
                                }}</dd>
                            <dt>"Asks for"</dt><dd class="note" data-testid="request-description">{view.description.clone()}</dd>
                            <dt>"Due"</dt><dd>{format_time(view.due_at)}</dd>
                            <dt>"Status"</dt><dd data-testid="request-status">{status_text(view.status)}</dd>
                            <dt>"Encrypted to"</dt><dd>{view.readers.iter().map(|holder| holder.name.clone()).collect::<Vec<_>>().join(", ")}</dd>
                        </dl>
                        <Show when=move || has_authorization>
                            <button type="button" class="secondary" data-testid="open-authorization" on:click=open_authorization>"Open the authorisation they attached"</button>
                        </Show>
                        <Show when=move || status == RequestStatus::Fulfilled && !done.get()>
                            <p class="banner banner-ok" role="status" data-testid="request-answered">
                                "This request has already been answered: documents were uploaded with this link, so it takes no more. If something is missing, ask " {organisation.clone()} " for a new request."
                            </p>
                        </Show>
                        <Show when=move || status == RequestStatus::Closed && !done.get()>
                            <p class="banner banner-warn" role="status" data-testid="request-closed">
                                "The requester closed this request; it takes no more uploads."
                            </p>
                        </Show>
                        <Show when=move || open && warning.with(Option::is_none) && !done.get() && interrupted.with(Option::is_none)>
                            <form class="composer" data-testid="provide-form" on:submit=submit>
                                <FilePicker files=files name="provide-files" />
                                <label>"Note (optional, encrypted)" <textarea name="provide-note" rows="2" bind:value=note></textarea></label>
                                <button type="submit" disabled=move || busy.get()>"Encrypt and upload"</button>
                            </form>
                        </Show>
                    }.into_any()
                }
            }}
            {move || authorization.get().map(|opened| {
                let names: Vec<(String, u64)> = opened.2.files.iter().map(|file| (file.name.clone(), file.size)).collect();
                view! {
                    <ul class="file-list" data-testid="authorization-files">
                        {names.into_iter().enumerate().map(|(index, (name, size))| view! {
                            <li><span class="file-name">{name}</span> " · " {format_bytes(size)} " "
                                <button type="button" class="link-button" on:click=move |_| save_authorization(index)>"Save"</button></li>
                        }).collect_view()}
                    </ul>
                }
            })}
            {move || warning.get().map(|stop| view! {
                <KeyWarningBox warning=stop me=None on_accept=Callback::new(|()| {}) />
            })}
            {move || progress.get().map(|(bytes, total)| view! {
                <div class="progress" role="status">
                    <progress max=total.max(1).to_string() value=bytes.to_string()></progress>
                    <crate::components::paused::Paused />
                    <p>{format!("{} of {} encrypted and uploaded", format_bytes(bytes), format_bytes(total))}</p>
                </div>
            })}
            <Show when=move || done.get()>
                <p class="banner banner-ok" role="status" data-testid="provide-done">"Your upload arrived, encrypted: only the people who asked can read it. This request is answered; nothing more is needed."</p>
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="provide-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}

/// The relay said the request was answered meanwhile (from another tab or by someone else
/// holding the link): the page stops offering the form.
fn mark_answered(request: RwSignal<Option<Result<LinkRequestView, String>>>) {
    request.update(|request| {
        if let Some(Ok(view)) = request {
            view.status = RequestStatus::Fulfilled;
        }
    });
}
