//! Requests, `/app/requests`: what the organisation asked of others and was asked, with their
//! status (open, fulfilled, overdue, closed) and filters; and a new request, to another
//! organisation on this relay by handle or to anyone by link, with a description, a due date
//! and optionally an authorisation document (e.g. a signed consent) encrypted for the provider.
//! A request by link gets a fresh secret in this browser: its fragment carries the secret and
//! the digest of the keys answers must be encrypted to; the relay gets only the upload token's
//! hash. Once a request is made its form is emptied, so a second click cannot ask twice; an
//! organisation that may not request sees why, with the form disabled.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use shared::crypto::{
    Fingerprint, OsRng, RequestFragment, RequestSecret, UserPublicKey, derive_request_keys,
};
use shared::wire::{self, RequestStatus, RequestView};

use crate::api::UploadAuth;
use crate::auth::use_auth;
use crate::browser::format_time;
use crate::components::file_picker::FilePicker;
use crate::components::key_warning::KeyWarningBox;
use crate::components::standing::{StandingNotice, may_send};
use crate::documents::{self, Contents};
use crate::pins::{self, KeyWarning};
use crate::routes;

#[component]
pub fn Requests() -> impl IntoView {
    let auth = use_auth();
    let list = RwSignal::new(None::<Result<Vec<RequestView>, String>>);
    let reload = RwSignal::new(0_u32);
    let direction = RwSignal::new(String::new());
    let wanted = RwSignal::new(String::new());
    Effect::new(move |_| {
        reload.track();
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                list.set(Some(api.requests().await.map_err(|e| e.to_string())));
            });
        }
    });
    let shown = move |request: &RequestView| {
        let direction_matches = match direction.get().as_str() {
            "outgoing" => request.outgoing,
            "incoming" => !request.outgoing,
            _ => true,
        };
        direction_matches
            && (wanted.get().is_empty() || status_text(request.status) == wanted.get())
    };
    view! {
        <section>
            <h1>"Requests"</h1>
            <NewRequest on_created=Callback::new(move |()| reload.update(|n| *n += 1)) />
            <h2>"All requests"</h2>
            <div class="inline-form">
                <label>"Direction"
                    <select name="direction" on:change=move |event| direction.set(event_target_value(&event))>
                        <option value="">"both"</option>
                        <option value="outgoing">"asked by us"</option>
                        <option value="incoming">"asked of us"</option>
                    </select>
                </label>
                <label>"Status"
                    <select name="status" on:change=move |event| wanted.set(event_target_value(&event))>
                        <option value="">"any"</option>
                        <option value="open">"open"</option>
                        <option value="fulfilled">"fulfilled"</option>
                        <option value="overdue">"overdue"</option>
                        <option value="closed">"closed"</option>
                    </select>
                </label>
            </div>
            {move || match list.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert">{problem}</p> }.into_any(),
                Some(Ok(requests)) => {
                    let rows: Vec<RequestView> = requests.into_iter().filter(|request| shown(request)).collect();
                    if rows.is_empty() {
                        return view! { <p class="muted">"No requests."</p> }.into_any();
                    }
                    view! {
                        <table data-testid="requests">
                            <thead><tr><th>"Who"</th><th>"What"</th><th>"Due"</th><th>"Status"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|request| {
                                    let who = if request.outgoing {
                                        format!("asked of {}", request.target.clone().unwrap_or_else(|| "anyone with the link".to_owned()))
                                    } else {
                                        format!("from {} ({})", request.organisation, request.requester)
                                    };
                                    let summary: String = request.description.chars().take(80).collect();
                                    view! {
                                        <tr data-request=request.id.to_string()>
                                            <td>{who}</td>
                                            <td><A href=routes::request(request.id)>{summary}</A></td>
                                            <td>{format_time(request.due_at)}</td>
                                            <td data-testid="request-status" class=status_class(request.status)>{status_text(request.status)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// What was made and what is left to finish (after a key warning, the finishing is retried).
#[derive(Clone)]
struct Pending {
    created: wire::CreateRequestResponse,
    secret: Option<std::rc::Rc<RequestSecret>>,
}

#[component]
fn NewRequest(on_created: Callback<()>) -> impl IntoView {
    let auth = use_auth();
    let by_link = RwSignal::new(false);
    let handle = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let due = RwSignal::new(String::new());
    let files = RwSignal::new_local(Vec::<web_sys::File>::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let warning = RwSignal::new(None::<KeyWarning>);
    let pending = RwSignal::new_local(None::<Pending>);
    let link = RwSignal::new(None::<String>);
    let made = RwSignal::new(None::<shared::ids::Id>);
    let allowed = Memo::new(move |_| may_send(auth));

    // Checks the keys, uploads the authorisation (if any) and, for a link, builds it.
    let finish = move || {
        let (Some(api), Some(state)) = (auth.api.get_untracked(), pending.get_untracked()) else {
            return;
        };
        let session = api.session().clone();
        let me = session.user.id;
        let own = session.keys.public_key.clone();
        let answers_to = match pins::check(me, &own, &state.created.readers) {
            Ok(keys) => keys,
            Err(stop) => {
                warning.set(Some(stop));
                busy.set(false);
                return;
            }
        };
        let authorization_readers = match &state.created.authorization {
            Some(slot) => match pins::check(me, &own, &slot.readers) {
                Ok(keys) => Some((slot.clone(), keys)),
                Err(stop) => {
                    warning.set(Some(stop));
                    busy.set(false);
                    return;
                }
            },
            None => None,
        };
        warning.set(None);
        busy.set(true);
        let contents = Contents {
            files: files.get_untracked(),
            note: None,
        };
        spawn_local(async move {
            let keys = state.secret.as_deref().map(derive_request_keys);
            if let Some((slot, readers)) = authorization_readers {
                let outcome = documents::provide(
                    &contents,
                    &slot,
                    UploadAuth::Session(Box::new(api.clone())),
                    &readers,
                    keys.as_ref().map(|keys| &keys.authorization_key),
                    false,
                    |_| {},
                )
                .await;
                if let Err(failure) = outcome {
                    busy.set(false);
                    error.set(Some(failure.to_string()));
                    return;
                }
            }
            if let Some(secret) = &state.secret {
                let fingerprints: Vec<Fingerprint> = answers_to
                    .iter()
                    .map(|(_, key): &(_, UserPublicKey)| key.fingerprint())
                    .collect();
                let fragment = RequestFragment {
                    secret: RequestSecret::dangerously_from_bytes(
                        *secret.dangerously_expose_bytes(),
                    ),
                    key_set_digest: Fingerprint::set_digest(&fingerprints),
                };
                let origin = web_sys::window()
                    .and_then(|window| window.location().origin().ok())
                    .unwrap_or_default();
                link.set(Some(format!(
                    "{origin}/r/{}#{}",
                    state.created.id,
                    fragment.encode().as_str()
                )));
            }
            busy.set(false);
            // Made: nothing of it stays in the form to be sent again.
            handle.set(String::new());
            email.set(String::new());
            description.set(String::new());
            due.set(String::new());
            files.set(Vec::new());
            pending.set(None);
            made.set(Some(state.created.id));
            on_created.run(());
        });
    };

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let Some(due_at) = due_date(&due.get_untracked()) else {
            error.set(Some("choose a due date".to_owned()));
            return;
        };
        let authorization = Some(files.with_untracked(|files| {
            files
                .iter()
                .map(crate::send::stream_size)
                .collect::<Vec<_>>()
        }))
        .filter(|sizes| !sizes.is_empty());
        let secret = by_link
            .get_untracked()
            .then(|| RequestSecret::generate(&mut OsRng));
        let target = match &secret {
            Some(secret) => wire::RequestTarget::Link {
                upload_verifier: derive_request_keys(secret).upload_verifier(),
                provider_email: Some(email.get_untracked()).filter(|text| !text.trim().is_empty()),
            },
            None => wire::RequestTarget::Organisation {
                handle: handle.get_untracked().trim().to_owned(),
            },
        };
        let request = wire::CreateRequestRequest {
            target,
            description: description.get_untracked(),
            due_at,
            authorization,
        };
        busy.set(true);
        error.set(None);
        link.set(None);
        made.set(None);
        spawn_local(async move {
            match api.create_request(&request).await {
                Ok(created) => {
                    pending.set(Some(Pending {
                        created,
                        secret: secret.map(std::rc::Rc::new),
                    }));
                    finish();
                }
                Err(failure) => {
                    busy.set(false);
                    error.set(Some(failure.to_string()));
                }
            }
        });
    };

    let copy = move |_| {
        if let (Some(text), Some(window)) = (link.get_untracked(), web_sys::window()) {
            let _ = window.navigator().clipboard().write_text(&text);
        }
    };

    view! {
        <details class="settings" open>
            <summary>"Ask for documents"</summary>
            <StandingNotice action="request documents" />
            <form class="composer" on:submit=submit>
                <fieldset class="form-body" disabled=move || !allowed.get()>
                    <fieldset class="inline-form">
                        <label class="checkbox"><input type="radio" name="target-kind" value="organisation" prop:checked=move || !by_link.get() on:change=move |_| by_link.set(false) />"another organisation on this relay"</label>
                        <label class="checkbox"><input type="radio" name="target-kind" value="link" prop:checked=move || by_link.get() on:change=move |_| by_link.set(true) />"anyone, by a link I pass on"</label>
                    </fieldset>
                    <Show when=move || !by_link.get()>
                        <label>"Their handle" <input type="text" name="handle" autocomplete="off" bind:value=handle /></label>
                    </Show>
                    <Show when=move || by_link.get()>
                        <label>"Their e-mail, for reminders (optional; the relay's operator can read it; reminders carry no link and no description)" <input type="email" name="provider-email" autocomplete="off" bind:value=email /></label>
                    </Show>
                    <label>"What you need (not encrypted: the provider and the relay's operator can read it)"
                        <textarea name="description" rows="3" maxlength="2000" required bind:value=description></textarea>
                    </label>
                    <label>"Due" <input type="date" name="due" required bind:value=due /></label>
                    <p class="muted">"Authorisation for the provider (optional, e.g. a signed consent; encrypted for them):"</p>
                    <FilePicker files=files name="authorization" />
                    <button type="submit" disabled=move || busy.get() || !allowed.get()>"Send the request"</button>
                </fieldset>
            </form>
            {move || warning.get().map(|stop| view! {
                <KeyWarningBox warning=stop me=auth.api.get_untracked().map(|api| api.session().user.id)
                    on_accept=Callback::new(move |()| finish()) />
            })}
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="request-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || made.get().map(|id| view! {
                <p class="banner banner-ok" data-testid="request-made">"Request sent. " <A href=routes::request(id)>"See it"</A></p>
            })}
            {move || link.get().map(|text| view! {
                <div class="sent-result" data-testid="request-link-result">
                    <label>"Request link (anyone holding it can upload for you; pass it on yourself)"
                        <input type="text" readonly name="request-link" data-testid="request-link" value=text.clone() />
                    </label>
                    <button type="button" on:click=copy>"Copy link"</button>
                    <img class="qr" src=crate::components::qr::data_uri(&text) alt="QR code of the request link" width="200" height="200" />
                </div>
            })}
        </details>
    }
}

/// The end of the chosen day (UTC), as Unix seconds.
fn due_date(value: &str) -> Option<i64> {
    if value.is_empty() {
        return None;
    }
    let ms = js_sys::Date::parse(value);
    (!ms.is_nan()).then(|| (ms / 1000.0) as i64 + 86_399)
}

pub fn status_text(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Open => "open",
        RequestStatus::Fulfilled => "fulfilled",
        RequestStatus::Overdue => "overdue",
        RequestStatus::Closed => "closed",
    }
}

fn status_class(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Fulfilled => "status-ok",
        RequestStatus::Overdue => "status-error",
        RequestStatus::Open | RequestStatus::Closed => "",
    }
}
