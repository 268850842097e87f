//! The Secure Send composer: files (picked or dropped, any size), an optional note and
//! recipient address, the one-time password with a strength hint, expiry and number of opens.
//! It encrypts and uploads with a progress bar, then shows the link (copy button, QR code) and
//! reminds the sender to pass the OTP by another channel. Names are shown as text only.
//! Optionally it attaches an invoice (the paywall): amount, currency and description; the
//! recipient can decrypt nothing until it is paid. Links expire after a week unless the sender
//! picks otherwise (up to the organisation's maximum); "Send something else" starts from an
//! empty form, so nothing of one client's send can ride along with the next. An organisation
//! that may not send sees why before it picks files, with the form disabled.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use shared::crypto::Passphrase;
use shared::money::{Currency, parse_amount};

use crate::auth::use_auth;
use crate::browser::{format_bytes, format_time};
use crate::components::file_picker::{FilePicker, take_picked};
use crate::components::standing::{StandingNotice, may_send};
use crate::routes::Page;
use crate::send::{self, MIN_OTP_CHARS, Outgoing, Progress};

/// Expiry choices, in days (the organisation's maximum is always offered as well).
const EXPIRY_DAYS: [u32; 4] = [1, 7, 30, 90];
/// The expiry chosen until the sender picks another, in days (shorter if the organisation's
/// maximum is).
const DEFAULT_EXPIRY_DAYS: u32 = 7;
/// Currencies offered first for invoices (any ISO code may be typed).
const CURRENCIES: [&str; 8] = ["EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK"];

#[component]
pub fn Send() -> impl IntoView {
    let auth = use_auth();
    let logged_in = Memo::new(move |_| auth.api.with(Option::is_some));
    view! {
        <Show when=move || logged_in.get() fallback=move || view! {
            <p class="muted">{move || if auth.checked.get() { "Log in to send documents." } else { "Loading…" }}</p>
        }>
            <Composer />
        </Show>
    }
}

#[component]
fn Composer() -> impl IntoView {
    let auth = use_auth();
    let max_days = Memo::new(move |_| {
        auth.api
            .with(|api| api.as_ref().map(|api| api.session().policy.max_expiry_days))
            .unwrap_or(120)
            .max(1)
    });
    let files = RwSignal::new_local(Vec::<web_sys::File>::new());
    let note = RwSignal::new(String::new());
    let recipient = RwSignal::new(String::new());
    let otp = RwSignal::new(send::generate_otp());
    // `None` until the sender picks an expiry: then the default.
    let expiry = RwSignal::new(None::<u32>);
    let opens = RwSignal::new("1".to_owned());
    let charge = RwSignal::new(false);
    let amount = RwSignal::new(String::new());
    let currency = RwSignal::new("EUR".to_owned());
    let description = RwSignal::new(String::new());
    let progress = RwSignal::new(None::<Progress>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<(String, i64)>);
    let copied = RwSignal::new(false);
    let allowed = Memo::new(move |_| may_send(auth));

    // Every field back to how a fresh page has it.
    let start_over = move |_| {
        files.set(Vec::new());
        note.set(String::new());
        recipient.set(String::new());
        otp.set(send::generate_otp());
        expiry.set(None);
        opens.set("1".to_owned());
        charge.set(false);
        amount.set(String::new());
        currency.set("EUR".to_owned());
        description.set(String::new());
        progress.set(None);
        error.set(None);
        copied.set(false);
        result.set(None);
    };

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let days = i64::from(
            expiry
                .get_untracked()
                .unwrap_or_else(|| default_expiry(max_days.get_untracked())),
        );
        let expires_in_seconds = if days == 0 { 3600 } else { days * 86_400 };
        let invoice = if charge.get_untracked() {
            match invoice_terms(
                &amount.get_untracked(),
                &currency.get_untracked(),
                &description.get_untracked(),
            ) {
                Ok(terms) => Some(terms),
                Err(problem) => {
                    error.set(Some(problem));
                    return;
                }
            }
        } else {
            None
        };
        let outgoing = Outgoing {
            files: files.get_untracked(),
            note: Some(note.get_untracked()),
            recipient_email: Some(recipient.get_untracked()).filter(|text| !text.trim().is_empty()),
            otp: Passphrase::new(otp.get_untracked()),
            expires_in_seconds,
            max_opens: opens.get_untracked().trim().parse().unwrap_or(1),
            invoice,
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = send::send(&api, outgoing, |step| progress.set(Some(step))).await;
            busy.set(false);
            match outcome {
                Ok(sent) => {
                    otp.set(send::generate_otp());
                    files.set(Vec::new());
                    result.set(Some((sent.link.to_string(), sent.expires_at)));
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    // A send this tab started before a reload: it goes on once the same files are picked.
    let interrupted = RwSignal::new(send::interrupted());
    let resume_pick = move |event: leptos::ev::Event| {
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let picked = take_picked(&event);
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = send::resume(&api, &picked, |step| progress.set(Some(step))).await;
            busy.set(false);
            match outcome {
                Ok(sent) => {
                    interrupted.set(None);
                    result.set(Some((sent.link.to_string(), sent.expires_at)));
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    let discard = move |_| {
        send::forget_interrupted();
        interrupted.set(None);
        error.set(None);
        progress.set(None);
    };

    let copy = move |_| {
        let Some((link, _)) = result.get_untracked() else {
            return;
        };
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&link);
            copied.set(true);
        }
    };

    view! {
        <section class="composer">
            <h1>"Secure Send"</h1>
            <StandingNotice action="send documents" />
            {move || interrupted.get().filter(|_| result.get().is_none()).map(|under_way| view! {
                <section class="banner banner-warn" aria-label="Interrupted send" data-testid="resume-send">
                    <p>
                        <strong>"A send was interrupted before it finished"</strong>
                        " (the page was reloaded or closed while it uploaded): "
                        {under_way.files.iter().map(|(name, size)| format!("{name} ({})", format_bytes(*size))).collect::<Vec<_>>().join(", ")}
                        ". Pick the same files to go on: what already reached the relay is not sent again."
                    </p>
                    <label class="file-pick">"Pick the same files"
                        <input type="file" name="resume-files" multiple disabled=move || busy.get() on:change=resume_pick />
                    </label>
                    " "
                    <button type="button" class="secondary" data-testid="discard-send" disabled=move || busy.get() on:click=discard>"Discard it"</button>
                </section>
            })}
            <Show when=move || result.get().is_none() && interrupted.get().is_none()>
                <form on:submit=submit>
                    <fieldset class="form-body" disabled=move || !allowed.get()>
                        <FilePicker files=files />
                        <label>"Note for the recipient (optional, encrypted)"
                            <textarea name="note" rows="3" maxlength="10000" bind:value=note></textarea>
                        </label>
                        <label>"Recipient's e-mail (optional, for your Sent list)"
                            <input type="email" name="recipient" autocomplete="off" bind:value=recipient />
                        </label>
                        <label>{format!("One-time password (at least {MIN_OTP_CHARS} characters)")}
                            <input type="text" name="otp" required minlength=MIN_OTP_CHARS.to_string() autocomplete="off" spellcheck="false" bind:value=otp />
                        </label>
                        <p class="muted" data-testid="otp-advice">
                            "A random password is filled in. Keep it, or type your own; give it to the recipient by another channel (phone, text message), never with the link. A long random one also holds if the relay's database is ever stolen together with the link, where a short one can be found by trying."
                            " "
                            <button type="button" class="link-button" data-testid="otp-new" on:click=move |_| otp.set(send::generate_otp())>"Another one"</button>
                        </p>
                        <p class="strength" data-testid="otp-strength">{move || strength(&otp.get())}</p>
                        <div class="inline-form">
                            <label>"Expires after"
                                <select name="expiry" on:change=move |event| expiry.set(event_target_value(&event).parse().ok())>
                                    {move || {
                                        let max = max_days.get();
                                        let chosen = expiry.get_untracked().unwrap_or_else(|| default_expiry(max));
                                        let mut options = vec![(0_u32, "1 hour".to_owned())];
                                        options.extend(EXPIRY_DAYS.iter().filter(|days| **days < max).map(|days| (*days, days_text(*days))));
                                        options.push((max, days_text(max)));
                                        options.into_iter().map(|(days, text)| view! {
                                            <option value=days.to_string() selected=days == chosen>{text}</option>
                                        }).collect_view()
                                    }}
                                </select>
                            </label>
                            <label>"Opens allowed"
                                <input type="number" name="opens" min="1" max="100" bind:value=opens />
                            </label>
                        </div>
                        <label class="checkbox">
                            <input type="checkbox" name="charge" prop:checked=move || charge.get()
                                on:change=move |event| charge.set(event_target_checked(&event)) />
                            "Ask for payment before the documents can be opened"
                        </label>
                        <Show when=move || charge.get()>
                            <fieldset class="inline-form" data-testid="invoice-fields">
                                <label>"Amount"
                                    <input type="text" name="amount" inputmode="decimal" placeholder="120.00" autocomplete="off" bind:value=amount />
                                </label>
                                <label>"Currency"
                                    <input type="text" name="currency" list="currencies" maxlength="3" size="4" autocomplete="off" bind:value=currency />
                                    <datalist id="currencies">
                                        {CURRENCIES.iter().map(|code| view! { <option value=*code></option> }).collect_view()}
                                    </datalist>
                                </label>
                                <label>"What it is for (not encrypted: the recipient, the card processor and the relay's operator can read it)"
                                    <input type="text" name="invoice-description" maxlength="200" bind:value=description />
                                </label>
                            </fieldset>
                        </Show>
                        <button type="submit" disabled=move || busy.get() || !allowed.get()>"Encrypt and send"</button>
                    </fieldset>
                </form>
            </Show>
            <Show when=move || busy.get() || (progress.get().is_some() && result.get().is_none() && error.get().is_none())>
                {move || progress.get().map(|step| view! {
                    <div class="progress" role="status" data-testid="send-progress">
                        <progress max=step.total.max(1).to_string() value=step.done.to_string()></progress>
                        <p>{progress_text(&step)}</p>
                        <crate::components::paused::Paused />
                    </div>
                })}
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="send-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || result.get().map(|(link, expires_at)| view! {
                <div class="sent-result" data-testid="sent-result">
                    <p class="banner banner-ok">"Encrypted and sent. Only someone with this link and the one-time password can open it."</p>
                    <label>"Link"
                        <input type="text" readonly name="link" data-testid="link" value=link.clone() />
                    </label>
                    <div class="actions">
                        <button type="button" on:click=copy>{move || if copied.get() { "Copied" } else { "Copy link" }}</button>
                        <A href=Page::Sent.path()>"See your sent items"</A>
                    </div>
                    <img class="qr" src=crate::components::qr::data_uri(&link) alt="QR code of the link" width="200" height="200" />
                    <p class="banner banner-warn" role="note">
                        "Pass the one-time password by another channel (a phone call, a text message), never together with the link. "
                        {format!("The link expires {}.", format_time(expires_at))}
                    </p>
                    <button type="button" class="secondary" data-testid="send-another" on:click=start_over>"Send something else"</button>
                </div>
            })}
        </section>
    }
}

/// The invoice as typed, or what is wrong with it in words.
fn invoice_terms(
    amount: &str,
    currency: &str,
    description: &str,
) -> Result<shared::wire::InvoiceTerms, String> {
    let currency = Currency::parse(currency).map_err(|error| error.to_string())?;
    let amount_minor = parse_amount(amount, currency).map_err(|error| error.to_string())?;
    let description = description.trim();
    if description.is_empty() {
        return Err("say what the invoice is for".to_owned());
    }
    Ok(shared::wire::InvoiceTerms {
        amount_minor,
        currency,
        description: description.to_owned(),
    })
}

/// The expiry offered first: a week, or the organisation's maximum if that is shorter.
fn default_expiry(max_days: u32) -> u32 {
    DEFAULT_EXPIRY_DAYS.min(max_days)
}

fn days_text(days: u32) -> String {
    if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    }
}

fn progress_text(step: &Progress) -> String {
    if step.finishing {
        return "Sealing the link…".to_owned();
    }
    let speed = step.speed();
    let left = step
        .seconds_left()
        .map(|seconds| format!(", about {} s left", seconds.ceil()))
        .unwrap_or_default();
    format!(
        "{} of {} encrypted and uploaded · {}/s{left}",
        format_bytes(step.done),
        format_bytes(step.total),
        format_bytes(speed as u64),
    )
}

/// A rough strength hint: length and variety of characters (the relay's attempt limit is what
/// really protects a short OTP).
fn strength(otp: &str) -> &'static str {
    let length = otp.chars().count();
    if length == 0 {
        return "";
    }
    if length < MIN_OTP_CHARS {
        return "Too short";
    }
    let classes = [
        otp.chars().any(|c| c.is_ascii_lowercase()),
        otp.chars().any(|c| c.is_ascii_uppercase()),
        otp.chars().any(|c| c.is_ascii_digit()),
        otp.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    match (length, classes) {
        (12.., 2..) | (10.., 3..) => "Strong",
        (8.., 2..) => "Fair",
        _ => "Weak: fine for a few tries, but longer is better",
    }
}
