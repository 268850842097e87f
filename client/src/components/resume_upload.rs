//! The banner a document page shows when a reload interrupted an upload made on it (request
//! links, portals, transfers, answers to requests): it names the files, asks for the same ones
//! again and goes on with what the relay lacks (`documents::resume`), or discards it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::wire;

use crate::auth::use_auth;
use crate::browser::format_bytes;
use crate::components::file_picker::take_picked;
use crate::components::paused::Paused;
use crate::documents;
use crate::send::Interrupted;

/// `interrupted` is the page's (`documents::interrupted_here`), cleared here once the upload is
/// finished or discarded, so the page shows its form again; `on_done` gets the finalized
/// document.
#[component]
pub fn ResumeUpload(
    interrupted: RwSignal<Option<Interrupted>>,
    on_done: Callback<wire::DocumentView>,
) -> impl IntoView {
    let auth = use_auth();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let uploaded = RwSignal::new(None::<(u64, u64)>);

    let pick = move |event: leptos::ev::Event| {
        let Some(under_way) = interrupted.get_untracked() else {
            return;
        };
        let picked = take_picked(&event);
        let total: u64 = under_way.files.iter().map(|(_, size)| size).sum();
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = documents::resume(auth.api.get_untracked(), &picked, |bytes| {
                uploaded.set(Some((bytes, total)));
            })
            .await;
            busy.set(false);
            match outcome {
                Ok(view) => {
                    uploaded.set(None);
                    interrupted.set(None);
                    on_done.run(view);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    let discard = move |_| {
        documents::forget_interrupted();
        interrupted.set(None);
        error.set(None);
        uploaded.set(None);
    };

    move || {
        interrupted.get().map(|under_way| {
            let names = under_way
                .files
                .iter()
                .map(|(name, size)| format!("{name} ({})", format_bytes(*size)))
                .collect::<Vec<_>>()
                .join(", ");
            view! {
                <section class="banner banner-warn" aria-label="Interrupted upload" data-testid="resume-upload">
                    <p>
                        <strong>"An upload was interrupted before it finished"</strong>
                        " (the page was reloaded or closed while it uploaded): " {names}
                        ". Pick the same files to go on: what already reached the relay is not sent again."
                    </p>
                    <label class="file-pick">"Pick the same files"
                        <input type="file" name="resume-files" multiple disabled=move || busy.get() on:change=pick />
                    </label>
                    " "
                    <button type="button" class="secondary" data-testid="discard-upload" disabled=move || busy.get() on:click=discard>"Discard it"</button>
                    {move || uploaded.get().map(|(bytes, total)| view! {
                        <div class="progress" role="status">
                            <progress max=total.max(1).to_string() value=bytes.to_string()></progress>
                            <Paused />
                            <p>{format!("{} of {} encrypted and uploaded", format_bytes(bytes), format_bytes(total))}</p>
                        </div>
                    })}
                    <Show when=move || error.get().is_some()>
                        <p class="status-error" role="alert" data-testid="resume-error">{move || error.get().unwrap_or_default()}</p>
                    </Show>
                </section>
            }
        })
    }
}
