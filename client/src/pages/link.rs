//! The recipient's page, `/l/<id>#<secret>`: needs no account. It reads the link secret from
//! the fragment (and removes it from the address bar), shows who sends, whether the operator
//! verified them, the expiry and the opens and tries left; asks for the one-time password; then
//! lists the files by name and size (as text, whatever the names contain) and downloads,
//! decrypts and saves them with progress. Each refusal is said in plain words.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use shared::crypto::{LinkSecret, Passphrase};
use shared::ids::Id;
use shared::wire::LinkInfo;

use crate::api;
use crate::browser::{self, format_bytes, format_time};
use crate::receive::{self, Opened, SaveTo};

/// Where one file of the opened bundle stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileState {
    Ready,
    Saving { done: u64 },
    Saved,
    Failed,
}

#[component]
pub fn Link() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|params| params.get("id").and_then(|id| Id::parse(&id).ok()));
    let fragment = browser::take_fragment();
    let secret = StoredValue::new_local(receive::secret_from_fragment(fragment.as_deref()).ok());
    let info = RwSignal::new(None::<Result<LinkInfo, String>>);
    let otp = RwSignal::new(String::new());
    let busy = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<String>);
    let opened = RwSignal::new_local(None::<Rc<Opened>>);
    let states = RwSignal::new(Vec::<FileState>::new());
    let delivered = RwSignal::new(false);
    let to_disk = RwSignal::new(receive::can_save_to_disk());

    let load_info = move || {
        spawn_local(async move {
            let answer = match (id, secret.with_value(Option::is_some)) {
                (None, _) => {
                    Err("this link is not valid: check that you copied all of it".to_owned())
                }
                (_, false) => Err(receive::ReceiveError::MissingSecret.to_string()),
                (Some(id), true) => api::link_info(id).await.map_err(|e| e.to_string()),
            };
            info.set(Some(answer));
        });
    };
    load_info();

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(Ok(details)) = info.get_untracked() else {
            return;
        };
        let passphrase = Passphrase::new(otp.get_untracked());
        busy.set(Some("Checking the one-time password…"));
        error.set(None);
        spawn_local(async move {
            browser::yield_to_browser().await;
            let outcome = match secret.with_value(|secret| secret.as_ref().map(copy_secret)) {
                Some(secret) => receive::open(&details, &secret, &passphrase).await,
                None => Err(receive::ReceiveError::MissingSecret),
            };
            busy.set(None);
            match outcome {
                Ok(bundle) => {
                    otp.set(String::new());
                    states.set(vec![FileState::Ready; bundle.manifest.files.len()]);
                    opened.set(Some(Rc::new(bundle)));
                }
                Err(failure) => {
                    error.set(Some(failure.to_string()));
                    if matches!(&failure, receive::ReceiveError::Api(api) if api.code() == Some("wrong_otp"))
                    {
                        load_info();
                    }
                }
            }
        });
    };

    let save = move |indices: Vec<usize>| {
        let Some(bundle) = opened.get_untracked() else {
            return;
        };
        let to = if to_disk.get_untracked() {
            SaveTo::Disk
        } else {
            SaveTo::Download
        };
        error.set(None);
        spawn_local(async move {
            for index in indices {
                set_state(states, index, FileState::Saving { done: 0 });
                let outcome = receive::save(&bundle, index, to, |done| {
                    set_state(states, index, FileState::Saving { done });
                })
                .await;
                match outcome {
                    Ok(()) => set_state(states, index, FileState::Saved),
                    Err(failure) => {
                        set_state(states, index, FileState::Failed);
                        error.set(Some(failure.to_string()));
                        return;
                    }
                }
            }
            let all_saved = states
                .with_untracked(|states| states.iter().all(|state| *state == FileState::Saved));
            if all_saved && !delivered.get_untracked() {
                match receive::confirm_delivery(&bundle).await {
                    Ok(()) => delivered.set(true),
                    Err(failure) => error.set(Some(failure.to_string())),
                }
            }
        });
    };

    view! {
        <section class="receive">
            <h1>"Documents sent to you"</h1>
            {move || match info.get() {
                None => view! { <p class="muted">"Looking up this link…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert" data-testid="link-error">{problem}</p> }.into_any(),
                Some(Ok(details)) => view! {
                    <dl class="facts" data-testid="link-facts">
                        <dt>"From"</dt>
                        <dd>
                            {details.organisation.clone()} " (" <code>{details.organisation_handle.clone()}</code> ") "
                            {if details.organisation_verified {
                                view! { <span class="status-ok" data-testid="verified">"verified by this relay's operator"</span> }.into_any()
                            } else {
                                view! { <span class="status-error" data-testid="verified">"not verified by this relay's operator"</span> }.into_any()
                            }}
                        </dd>
                        <dt>"Contents"</dt>
                        <dd>{format!("{} file(s), {}", details.files, format_bytes(details.size))}</dd>
                        <dt>"Expires"</dt>
                        <dd>{format_time(details.expires_at)}</dd>
                        <dt>"Opens left"</dt>
                        <dd data-testid="opens-left">{details.opens_left}</dd>
                        <dt>"Password tries left"</dt>
                        <dd data-testid="tries-left">{details.attempts_left}</dd>
                    </dl>
                }.into_any(),
            }}
            <Show when=move || opened.with(Option::is_none) && matches!(info.get(), Some(Ok(_)))>
                <form class="auth-card" on:submit=submit>
                    <label>"One-time password (the sender gives it to you separately)"
                        <input type="password" name="otp" required autocomplete="off" bind:value=otp />
                    </label>
                    <button type="submit" disabled=move || busy.get().is_some()>"Open"</button>
                </form>
            </Show>
            <Show when=move || busy.get().is_some()>
                <p class="progress" role="status">{move || busy.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="receive-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || opened.get().map(|bundle| {
                let files = bundle.manifest.files.iter().map(|file| (file.name.clone(), file.size)).collect::<Vec<_>>();
                let count = files.len();
                let note = bundle.manifest.note.clone();
                view! {
                    <div class="opened" data-testid="opened">
                        {note.map(|note| view! { <blockquote class="note" data-testid="note">{note}</blockquote> })}
                        <ul class="file-list" data-testid="files">
                            {files.into_iter().enumerate().map(|(index, (name, size))| view! {
                                <li data-index=index.to_string()>
                                    <span class="file-name" data-testid="file-name">{name}</span>
                                    " · " {format_bytes(size)} " "
                                    <span class="file-state" data-testid="file-state">{move || state_text(states.with(|states| states.get(index).cloned()), size)}</span>
                                    <button type="button" class="link-button" on:click=move |_| save(vec![index])>"Save"</button>
                                </li>
                            }).collect_view()}
                        </ul>
                        <Show when=move || receive::can_save_to_disk()>
                            <label class="checkbox">
                                <input type="checkbox" name="to-disk" prop:checked=move || to_disk.get() on:change=move |event| to_disk.set(event_target_checked(&event)) />
                                "Save straight to disk as it decrypts (you choose where each file goes)"
                            </label>
                        </Show>
                        <button type="button" data-testid="save-all" on:click=move |_| save((0..count).collect())>"Save all"</button>
                        <Show when=move || delivered.get()>
                            <p class="banner banner-ok" data-testid="delivered">"All files saved. The sender has been told they were delivered."</p>
                        </Show>
                    </div>
                }
            })}
        </section>
    }
}

fn set_state(states: RwSignal<Vec<FileState>>, index: usize, state: FileState) {
    states.update(|states| {
        if let Some(slot) = states.get_mut(index) {
            *slot = state;
        }
    });
}

fn state_text(state: Option<FileState>, size: u64) -> String {
    match state {
        None | Some(FileState::Ready) => String::new(),
        Some(FileState::Saving { done }) => {
            let percent = (done * 100).checked_div(size).unwrap_or(100);
            format!("decrypting… {percent} %")
        }
        Some(FileState::Saved) => "saved".to_owned(),
        Some(FileState::Failed) => "not saved".to_owned(),
    }
}

/// A second handle on the same secret for one opening (the stored one stays for a retry).
fn copy_secret(secret: &LinkSecret) -> LinkSecret {
    LinkSecret::dangerously_from_bytes(*secret.dangerously_expose_bytes())
}
