//! An organisation's public intake page, `/p/<handle>`: anyone may drop files for the firm
//! (no account), encrypted in this browser to the firm's owner and intake users. When the
//! firm shares its portal link with `#k=<digest>`, the page refuses any other set of keys the
//! relay may serve; without it, the page shows the keys' fingerprints to compare.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use shared::crypto::UserPublicKey;
use shared::wire::{self, PortalView};

use crate::api;
use crate::browser::{self, format_bytes};
use crate::components::file_picker::FilePicker;
use crate::components::key_warning::KeyWarningBox;
use crate::components::resume_upload::ResumeUpload;
use crate::documents::{self, Contents, ProvideError};
use crate::pins::{self, KeyWarning};

#[component]
pub fn Portal() -> impl IntoView {
    let params = use_params_map();
    let handle = params.with_untracked(|params| params.get("handle").unwrap_or_default());
    let digest: Option<[u8; 32]> = browser::take_fragment()
        .and_then(|text| text.strip_prefix("k=").map(str::to_owned))
        .and_then(|text| shared::encoding::decode_array(&text).ok());
    let portal = RwSignal::new(None::<Result<PortalView, String>>);
    let warning = RwSignal::new(None::<KeyWarning>);
    let files = RwSignal::new_local(Vec::<web_sys::File>::new());
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let progress = RwSignal::new(None::<(u64, u64)>);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(false);

    let checked = move |holders: &[wire::KeyHolder]| match digest {
        Some(digest) => pins::key_set_matches(holders, &digest),
        None => holders
            .iter()
            .map(|holder| {
                UserPublicKey::from_spki_der(&holder.public_key)
                    .map(|key| (holder.user, key))
                    .map_err(|_| KeyWarning::Unusable(holder.name.clone()))
            })
            .collect(),
    };

    let handle = StoredValue::new(handle);
    {
        spawn_local(async move {
            let answer = api::portal(&handle.get_value())
                .await
                .map_err(|e| e.to_string());
            if let Ok(view) = &answer
                && let Err(stop) = checked(&view.readers)
            {
                warning.set(Some(stop));
            }
            portal.set(Some(answer));
        });
    }

    // A drop this tab started here before a reload: it goes on once the same files are
    // picked again.
    let interrupted = RwSignal::new(documents::interrupted_here());
    let resumed = Callback::new(move |_: wire::DocumentView| done.set(true));

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
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
        let handle = handle.get_value();
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let request = wire::NewDocumentRequest {
                files: contents.stream_sizes(),
            };
            let created = match api::portal_drop(&handle, &request).await {
                Ok(created) => created,
                Err(failure) => {
                    busy.set(false);
                    error.set(Some(failure.to_string()));
                    return;
                }
            };
            let outcome =
                documents::check_and_provide(&contents, &created, None, checked, None, |bytes| {
                    progress.set(Some((bytes, total)))
                })
                .await;
            busy.set(false);
            match outcome {
                Ok(_) => {
                    files.set(Vec::new());
                    note.set(String::new());
                    done.set(true);
                }
                Err(ProvideError::Keys(stop)) => warning.set(Some(stop)),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section class="receive">
            {move || match portal.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert" data-testid="portal-error">{problem}</p> }.into_any(),
                Some(Ok(view)) => view! {
                    <h1>{format!("Send documents to {}", view.organisation)}</h1>
                    <p>
                        {if view.verified {
                            view! { <span class="status-ok" data-testid="verified">"verified by this relay's operator"</span> }.into_any()
                        } else {
                            view! { <span class="status-error" data-testid="verified">"not verified by this relay's operator"</span> }.into_any()
                        }}
                    </p>
                    <p class="muted">{format!(
                        "Your files are encrypted in this browser before they leave it; only {} can read them. Up to {} at once.",
                        view.readers.iter().map(|holder| holder.name.clone()).collect::<Vec<_>>().join(", "),
                        format_bytes(view.max_bundle_bytes)
                    )}</p>
                    {(digest.is_none()).then(|| view! {
                        <p class="status-error" role="status" data-testid="keys-unchecked">
                            "This address has no key check (the #k=… part of the firm's portal link), so this browser could not check that the keys below are the firm's: a relay could have replaced them. Ask the firm for its full portal link, or compare these fingerprints with the firm before you send."
                        </p>
                        <details class="settings" open=true><summary>"Key fingerprints (compare them with the firm)"</summary>
                            <ul data-testid="portal-fingerprints">
                                {view.readers.iter().map(|holder| {
                                    let fingerprint = UserPublicKey::from_spki_der(&holder.public_key)
                                        .map(|key| key.fingerprint().to_string())
                                        .unwrap_or_default();
                                    view! { <li>{holder.name.clone()} ": " <code>{fingerprint}</code></li> }
                                }).collect_view()}
                            </ul>
                        </details>
                    })}
                }.into_any(),
            }}
            <ResumeUpload interrupted=interrupted on_done=resumed />
            <Show when=move || matches!(portal.get(), Some(Ok(_))) && warning.with(Option::is_none) && !done.get() && interrupted.with(Option::is_none)>
                <form class="composer" data-testid="portal-form" on:submit=submit>
                    <FilePicker files=files name="portal-files" />
                    <label>"Who you are and how to reach you (encrypted, for the firm only)"
                        <textarea name="portal-note" rows="3" maxlength="10000" bind:value=note></textarea>
                    </label>
                    <button type="submit" disabled=move || busy.get()>"Encrypt and send"</button>
                </form>
            </Show>
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
                <p class="banner banner-ok" data-testid="portal-done">"Encrypted and sent. Only the firm's intake can read it."</p>
                <button type="button" class="secondary" on:click=move |_| { done.set(false); progress.set(None); }>"Send more"</button>
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="portal-upload-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
