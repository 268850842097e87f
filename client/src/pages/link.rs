//! The recipient's page, `/l/<id>#<secret>`: needs no account. It reads the link secret from
//! the fragment (and removes it from the address bar), shows who sends, whether the operator
//! verified them, the expiry and the opens and tries left; asks for the one-time password; then
//! lists the files by name and size (as text, whatever the names contain) and downloads,
//! decrypts and saves them with progress: each on its own, or all with one click (into a folder
//! the recipient picks, or one ZIP archive). The receipt goes to the relay only once every file
//! is saved; until then the page says which files are missing. Each refusal is said in plain
//! words. The link secret is kept in this tab's `sessionStorage` from the start, so a reload
//! comes back to the same link (opening it again needs the one-time password and an open left);
//! it is forgotten once the files are delivered.
//! Behind a paywall it shows the invoice first and asks for nothing else until it is paid: a
//! card payment leaves for the processor's page with the link secret kept in this tab's
//! `sessionStorage`, and on return the page restores it, waits for the relay to confirm the
//! payment, and goes on to the one-time password.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use shared::crypto::{LinkSecret, Passphrase};
use shared::ids::Id;
use shared::wire::{InvoiceStatus, LinkInfo};

use crate::api;
use crate::browser::{self, format_bytes, format_stored_bytes, format_time};
use crate::components::invoice::InvoiceBox;
use crate::receive::{self, Opened, SaveTo};
use crate::save_all::{self, FileEvent, SaveAllTo};

/// How long the page waits for a payment's confirmation after returning from checkout.
const RETURN_POLLS: u32 = 120;
const RETURN_POLL_MS: i32 = 1500;
/// How long an open page keeps looking for the payee's "paid" otherwise (half an hour).
const IDLE_POLLS: u32 = 360;
const IDLE_POLL_MS: i32 = 5000;

/// Where one file of the opened bundle stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileState {
    Ready,
    Saving {
        done: u64,
    },
    Saved,
    Failed,
    /// Decrypted into an archive that was then discarded.
    NotSaved,
}

#[component]
pub fn Link() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|params| params.get("id").and_then(|id| Id::parse(&id).ok()));
    // Read before the address bar is cleaned: `?checkout=` marks a return from paying.
    let checkout = browser::query_param("checkout");
    let fragment = match (browser::take_fragment(), id) {
        // Out of the address bar, so kept in this tab: a reload comes back to this link.
        (Some(fragment), Some(id)) => {
            browser::remember_in_tab(&kept_key(id), &fragment);
            Some(fragment)
        }
        (Some(fragment), None) => Some(fragment),
        (None, id) => id.and_then(|id| browser::recall_in_tab(&kept_key(id))),
    };
    let secret = StoredValue::new_local(receive::secret_from_fragment(fragment.as_deref()).ok());
    let waiting = RwSignal::new(
        checkout
            .as_deref()
            .is_some_and(|value| value != "cancelled"),
    );
    let cancelled = checkout.as_deref() == Some("cancelled");
    let paying = RwSignal::new(false);
    let info = RwSignal::new(None::<Result<LinkInfo, String>>);
    let otp = RwSignal::new(String::new());
    let busy = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<String>);
    let opened = RwSignal::new_local(None::<Rc<Opened>>);
    let states = RwSignal::new(Vec::<FileState>::new());
    let delivered = RwSignal::new(false);
    let saving = RwSignal::new(false);
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
            let unpaid = answer
                .as_ref()
                .ok()
                .and_then(|details| details.invoice.as_ref())
                .is_some_and(|invoice| {
                    matches!(
                        invoice.status,
                        InvoiceStatus::Open | InvoiceStatus::Processing
                    )
                });
            info.set(Some(answer));
            if unpaid && let Some(id) = id {
                // The address bar no longer holds the secret: keep it in this tab so that a
                // reload (or the trip to pay) does not lose it while payment is pending.
                if let Some(fragment) =
                    secret.with_value(|secret| secret.as_ref().map(|secret| secret.to_fragment()))
                {
                    browser::remember_in_tab(&kept_key(id), fragment.as_str());
                }
                let returning = waiting.get_untracked();
                wait_for_payment(id, info, waiting, returning).await;
            }
        });
    };
    load_info();

    let pay = move |()| {
        let Some(Ok(details)) = info.get_untracked() else {
            return;
        };
        let Some(invoice) = details.invoice else {
            return;
        };
        paying.set(true);
        error.set(None);
        let fragment = secret.with_value(|secret| secret.as_ref().map(|s| s.to_fragment()));
        spawn_local(async move {
            // The secret must survive the trip to the card processor (it never goes there).
            if let Some(fragment) = fragment {
                browser::remember_in_tab(&kept_key(details.id), fragment.as_str());
            }
            match api::checkout(invoice.id).await {
                Ok(answer) => {
                    if !browser::go_to(&answer.url) {
                        paying.set(false);
                        error.set(Some(
                            "the browser refused to open the payment page".to_owned(),
                        ));
                    }
                }
                Err(failure) => {
                    paying.set(false);
                    error.set(Some(failure.to_string()));
                }
            }
        });
    };

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
            // Typed once: never left in the field, right or wrong.
            otp.set(String::new());
            match outcome {
                Ok(bundle) => {
                    states.set(vec![FileState::Ready; bundle.manifest.files.len()]);
                    opened.set(Some(Rc::new(bundle)));
                    // The relay has just counted this opening: show it (asking again would
                    // only say the link is used up when this was its last open).
                    info.update(|info| {
                        if let Some(Ok(details)) = info {
                            details.opens_left = details.opens_left.saturating_sub(1);
                        }
                    });
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

    // The receipt: only when every file is saved, once.
    let confirm_if_complete = move |bundle: Rc<Opened>| async move {
        let all_saved =
            states.with_untracked(|states| states.iter().all(|state| *state == FileState::Saved));
        if !all_saved || delivered.get_untracked() {
            return;
        }
        match receive::confirm_delivery(&bundle).await {
            Ok(()) => {
                delivered.set(true);
                browser::forget_in_tab(&kept_key(bundle.id));
            }
            Err(failure) => error.set(Some(failure.to_string())),
        }
    };

    let save_one = move |index: usize| {
        let Some(bundle) = opened.get_untracked() else {
            return;
        };
        if saving.get_untracked() {
            return;
        }
        let to = if to_disk.get_untracked() {
            SaveTo::Disk
        } else {
            SaveTo::Download
        };
        error.set(None);
        saving.set(true);
        spawn_local(async move {
            set_state(states, index, FileState::Saving { done: 0 });
            let outcome = receive::save(&bundle, index, to, |done| {
                set_state(states, index, FileState::Saving { done });
            })
            .await;
            saving.set(false);
            match outcome {
                Ok(()) => set_state(states, index, FileState::Saved),
                Err(failure) => {
                    set_state(states, index, FileState::Failed);
                    error.set(Some(failure.to_string()));
                    return;
                }
            }
            confirm_if_complete(bundle).await;
        });
    };

    let save_everything = move |()| {
        let Some(bundle) = opened.get_untracked() else {
            return;
        };
        if saving.get_untracked() {
            return;
        }
        if bundle.manifest.files.len() == 1 {
            save_one(0);
            return;
        }
        let to = if to_disk.get_untracked() && save_all::can_pick_folder() {
            SaveAllTo::Folder
        } else {
            SaveAllTo::Archive
        };
        let archive = archive_name(&info.get_untracked());
        error.set(None);
        saving.set(true);
        spawn_local(async move {
            let outcome = save_all::save_all(
                &bundle.key,
                &bundle.manifest,
                &bundle.source(),
                to,
                &archive,
                |index, event| {
                    let state = match event {
                        FileEvent::Progress(done) => FileState::Saving { done },
                        FileEvent::Saved => FileState::Saved,
                        FileEvent::Failed => FileState::Failed,
                        // A file that failed keeps saying so.
                        FileEvent::Discarded
                            if states.with_untracked(|states| {
                                states.get(index) == Some(&FileState::Failed)
                            }) =>
                        {
                            FileState::Failed
                        }
                        FileEvent::Discarded => FileState::NotSaved,
                    };
                    set_state(states, index, state);
                },
            )
            .await;
            saving.set(false);
            if let Err(failure) = outcome {
                error.set(Some(failure.to_string()));
            }
            confirm_if_complete(bundle).await;
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
                        <dd>{format!("{} file(s), {}", details.files, format_stored_bytes(details.size))}</dd>
                        <dt>"Expires"</dt>
                        <dd>{format_time(details.expires_at)}</dd>
                        <dt>"Opens left"</dt>
                        <dd data-testid="opens-left">{details.opens_left}</dd>
                        <dt>"Password tries left"</dt>
                        <dd data-testid="tries-left">{details.attempts_left}</dd>
                    </dl>
                    {details.invoice.clone().map(|invoice| view! {
                        <InvoiceBox invoice=invoice card_payments=details.card_payments
                            waiting=waiting on_pay=Callback::new(pay) busy=paying />
                    })}
                }.into_any(),
            }}
            {cancelled.then(|| view! {
                <p class="muted" data-testid="payment-cancelled">"The payment was cancelled; nothing was charged. You can try again."</p>
            })}
            <Show when=move || opened.with(Option::is_none) && info.with(|info| matches!(info, Some(Ok(details)) if payable_or_paid(details)))>
                <form class="auth-card" on:submit=submit>
                    <label>"One-time password (the sender gives it to you separately)"
                        <input type="password" name="otp" required autocomplete="off" bind:value=otp />
                    </label>
                    <button type="submit" disabled=move || busy.get().is_some()>"Open"</button>
                </form>
            </Show>
            <Show when=move || busy.get().is_some()>
                <p class="progress" role="status">{move || busy.get().unwrap_or_default()}</p>
                <crate::components::paused::Paused />
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="receive-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || opened.get().map(|bundle| {
                let files = bundle.manifest.files.iter().map(|file| (file.name.clone(), file.size)).collect::<Vec<_>>();
                let count = files.len();
                let names_for_missing = StoredValue::new(files.iter().map(|(name, _)| name.clone()).collect::<Vec<String>>());
                let note = bundle.manifest.note.clone();
                view! {
                    <div class="opened" data-testid="opened">
                        {note.map(|note| view! { <blockquote class="note" data-testid="note">{note}</blockquote> })}
                        <ul class="file-list" data-testid="files">
                            {files.into_iter().enumerate().map(|(index, (name, size))| { let name_for_label = name.clone(); view! {
                                <li data-index=index.to_string()>
                                    <span class="file-name" data-testid="file-name">{name}</span>
                                    " · " {format_bytes(size)} " "
                                    <span class="file-state" data-testid="file-state">{move || state_text(states.with(|states| states.get(index).cloned()), size)}</span>
                                    <button type="button" class="link-button" data-testid="save-file" disabled=move || saving.get() || delivered.get()
                                        aria-label=format!("Save {name_for_label}") on:click=move |_| save_one(index)>"Save"</button>
                                </li>
                            }}).collect_view()}
                        </ul>
                        <Show when=move || saving.get()>
                            <crate::components::paused::Paused />
                        </Show>
                        <Show when=move || receive::can_save_to_disk()>
                            <label class="checkbox">
                                <input type="checkbox" name="to-disk" prop:checked=move || to_disk.get() on:change=move |event| to_disk.set(event_target_checked(&event)) />
                                "Choose where files go (a folder for all of them, a save dialog for one); otherwise they go to your downloads"
                            </label>
                        </Show>
                        <button type="button" data-testid="save-all" disabled=move || saving.get() || delivered.get() on:click=move |_| save_everything(())>
                            {move || save_all_label(count, to_disk.get() && save_all::can_pick_folder())}
                        </button>
                        <Show when=move || delivered.get()>
                            <p class="banner banner-ok" role="status" data-testid="delivered">"Every file is saved. The sender has been told they were delivered."</p>
                        </Show>
                        <Show when=move || !delivered.get() && !saving.get() && states.with(|states| partly_saved(states))>
                            <p class="banner banner-warn" role="status" data-testid="missing">
                                {move || names_for_missing.with_value(|names| missing_text(names, &states.get()))}
                            </p>
                        </Show>
                    </div>
                }
            })}
        </section>
    }
}

/// Whether the one-time password may be asked: no invoice, or a paid one.
fn payable_or_paid(details: &LinkInfo) -> bool {
    details
        .invoice
        .as_ref()
        .is_none_or(|invoice| invoice.status == InvoiceStatus::Paid)
}

/// Where the tab keeps a link's secret across a payment.
fn kept_key(id: Id) -> String {
    format!("sealpost.link.{id}")
}

/// Polls the link's facts until its invoice is settled, so the page goes on by itself once
/// the relay has the processor's confirmation (`returning` from checkout: often, and says so
/// if it takes too long) or the payee's "paid" (otherwise: now and then, for half an hour).
async fn wait_for_payment(
    id: Id,
    info: RwSignal<Option<Result<LinkInfo, String>>>,
    waiting: RwSignal<bool>,
    returning: bool,
) {
    let (polls, every) = if returning {
        (RETURN_POLLS, RETURN_POLL_MS)
    } else {
        (IDLE_POLLS, IDLE_POLL_MS)
    };
    for _ in 0..polls {
        browser::sleep(every).await;
        let Ok(details) = api::link_info(id).await else {
            continue;
        };
        let settled = details.invoice.as_ref().is_none_or(|invoice| {
            matches!(
                invoice.status,
                InvoiceStatus::Paid | InvoiceStatus::Refunded
            )
        });
        info.set(Some(Ok(details)));
        if settled {
            waiting.set(false);
            return;
        }
    }
    waiting.set(false);
    if returning {
        info.set(Some(Err(
            "the payment has not been confirmed yet; reload this page in a few minutes, or contact the sender"
                .to_owned(),
        )));
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
        Some(FileState::Failed) => "not saved: failed".to_owned(),
        Some(FileState::NotSaved) => "not saved".to_owned(),
    }
}

/// Some file was tried and some file is not saved: time to say which are missing.
fn partly_saved(states: &[FileState]) -> bool {
    states.iter().any(|state| *state != FileState::Ready)
        && states.iter().any(|state| *state != FileState::Saved)
}

fn save_all_label(count: usize, to_folder: bool) -> &'static str {
    match (count, to_folder) {
        (1, _) => "Save",
        (_, true) => "Save all to a folder…",
        (_, false) => "Save all (one ZIP file)",
    }
}

/// Which files are not saved yet, and what the recipient can do.
fn missing_text(names: &[String], states: &[FileState]) -> String {
    let missing: Vec<&str> = names
        .iter()
        .zip(states)
        .filter(|(_, state)| **state != FileState::Saved)
        .map(|(name, _)| name.as_str())
        .collect();
    format!(
        "Not saved yet: {}. Save them again while this page is open; the sender sees them delivered only when every file is saved.",
        missing.join(", ")
    )
}

/// The archive "Save all" makes: who sent it, and the link, so two archives differ.
fn archive_name(info: &Option<Result<LinkInfo, String>>) -> String {
    match info {
        Some(Ok(details)) => format!(
            "sealpost-{}-{}.zip",
            details.organisation_handle,
            &details.id.to_string()[..8]
        ),
        _ => "sealpost-files.zip".to_owned(),
    }
}

/// A second handle on the same secret for one opening (the stored one stays for a retry).
fn copy_secret(secret: &LinkSecret) -> LinkSecret {
    LinkSecret::dangerously_from_bytes(*secret.dangerously_expose_bytes())
}
