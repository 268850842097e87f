//! Chart Transfer, `/app/transfer`: send files to another organisation on this relay by its
//! handle. The relay names the readers (the receiving owner and intake users, and you and your
//! owner for your copy); their keys are checked against the fingerprints this browser pinned
//! before (a changed key stops the transfer with a warning), and the files are encrypted to
//! exactly them. An organisation that may not send sees why, with the form disabled.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use shared::wire;

use crate::auth::use_auth;
use crate::browser::format_bytes;
use crate::components::file_picker::FilePicker;
use crate::components::key_warning::KeyWarningBox;
use crate::components::resume_upload::ResumeUpload;
use crate::components::standing::{StandingNotice, may_send};
use crate::documents::{self, Contents, ProvideError};
use crate::pins::KeyWarning;
use crate::routes::{self, Page};

#[component]
pub fn Transfer() -> impl IntoView {
    let auth = use_auth();
    let to = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let files = RwSignal::new_local(Vec::<web_sys::File>::new());
    let busy = RwSignal::new(false);
    let uploaded = RwSignal::new(None::<(u64, u64)>);
    let error = RwSignal::new(None::<String>);
    let warning = RwSignal::new(None::<KeyWarning>);
    let reservation = RwSignal::new(None::<wire::DocumentCreated>);
    let done = RwSignal::new(None::<wire::DocumentView>);
    let allowed = Memo::new(move |_| may_send(auth));

    // Encrypts into the reserved transfer once its keys pass the check.
    let fill = move || {
        let (Some(api), Some(created)) = (auth.api.get_untracked(), reservation.get_untracked())
        else {
            return;
        };
        let contents = Contents {
            files: files.get_untracked(),
            note: Some(note.get_untracked()),
        };
        let total: u64 = contents.sizes().iter().sum();
        warning.set(None);
        busy.set(true);
        spawn_local(async move {
            let check = documents::pinned_for(&api);
            let outcome = documents::check_and_provide(
                &contents,
                &created,
                Some(api),
                check,
                None,
                |bytes| uploaded.set(Some((bytes, total))),
            )
            .await;
            busy.set(false);
            match outcome {
                Ok(view) => {
                    files.set(Vec::new());
                    done.set(Some(view));
                }
                Err(ProvideError::Keys(stop)) => warning.set(Some(stop)),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    // A transfer this tab started here before a reload: it goes on once the same files are
    // picked again.
    let interrupted = RwSignal::new(documents::interrupted_here());
    let resumed = Callback::new(move |view: wire::DocumentView| {
        files.set(Vec::new());
        done.set(Some(view));
    });

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let contents = Contents {
            files: files.get_untracked(),
            note: None,
        };
        if contents.files.is_empty() {
            error.set(Some("choose at least one file".to_owned()));
            return;
        }
        let request = wire::TransferRequest {
            to: to.get_untracked().trim().to_owned(),
            files: contents.stream_sizes(),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api.transfer(&request).await {
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

    view! {
        <section class="composer">
            <h1>"Chart transfer"</h1>
            <p class="muted">"Send documents to another organisation on this relay. Only its owner and intake users can read them, and you and your owner keep a copy."</p>
            <StandingNotice action="transfer documents" />
            <ResumeUpload interrupted=interrupted on_done=resumed />
            <Show when=move || done.get().is_none() fallback=move || view! {
                <p class="banner banner-ok" data-testid="transfer-done">
                    "Encrypted and sent to " {done.get().map(|view| view.organisation).unwrap_or_default()} "."
                </p>
                <p>{move || done.get().map(|view| view! { <A href=routes::document(view.id)>"Your copy"</A> })} " · " <A href=Page::Inbox.path()>"Sent and received"</A></p>
            }>
                <Show when=move || interrupted.with(Option::is_none)>
                <form on:submit=submit>
                    <fieldset class="form-body" disabled=move || !allowed.get()>
                        <label>"To (the organisation's handle)"
                            <input type="text" name="to" required autocomplete="off" bind:value=to />
                        </label>
                        <FilePicker files=files />
                        <label>"Note (optional, encrypted)"
                            <textarea name="note" rows="3" maxlength="10000" bind:value=note></textarea>
                        </label>
                        <button type="submit" disabled=move || busy.get() || !allowed.get()>"Encrypt and transfer"</button>
                    </fieldset>
                </form>
                </Show>
            </Show>
            {move || uploaded.get().map(|(bytes, total)| view! {
                <div class="progress" role="status" data-testid="transfer-progress">
                    <progress max=total.max(1).to_string() value=bytes.to_string()></progress>
                    <crate::components::paused::Paused />
                    <p>{format!("{} of {} encrypted and uploaded", format_bytes(bytes), format_bytes(total))}</p>
                </div>
            })}
            {move || warning.get().map(|stop| view! {
                <KeyWarningBox warning=stop me=auth.api.get_untracked().map(|api| api.session().user.id)
                    on_accept=Callback::new(move |()| fill()) />
            })}
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="transfer-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
