//! The loud stop before encrypting to keys this browser cannot vouch for: on first contact
//! with an organisation, for a reader not seen before, or for a changed key. It lists every
//! reader with their address, organisation and fingerprint (and, for a changed key, the one
//! seen before), and only after the user says they compared them does it pin them and try
//! again.

use leptos::prelude::*;
use shared::ids::Id;

use crate::pins::{self, KeyWarning};

#[component]
pub fn KeyWarningBox(
    warning: KeyWarning,
    /// The logged-in user (whose pins change), if any.
    me: Option<Id>,
    /// Called after the keys were accepted, to try again.
    on_accept: Callback<()>,
) -> impl IntoView {
    let message = warning.to_string();
    let review = match &warning {
        KeyWarning::Review(review) => Some(review.clone()),
        _ => None,
    };
    let title = match &review {
        Some(review) if review.changed.is_empty() && review.first_contact => {
            "Confirm who can read this"
        }
        Some(review) if review.changed.is_empty() => "New reader: confirm before sending",
        _ => "Key check failed",
    };
    let rows = review
        .as_ref()
        .map(|review| {
            review
                .readers
                .iter()
                .map(|reader| {
                    let before = review
                        .changed
                        .iter()
                        .find(|change| change.reader == *reader)
                        .map(|change| change.pinned.clone());
                    let new = review.new.contains(reader);
                    (reader.clone(), before, new)
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let accept = {
        let review = review.clone();
        move |_| {
            if let (Some(me), Some(review)) = (me, review.as_ref()) {
                pins::accept(me, review);
                on_accept.run(());
            }
        }
    };
    let can_accept = me.is_some() && review.is_some();
    view! {
        <section class="banner banner-warn key-warning" role="alert" data-testid="key-warning">
            <h2>{title}</h2>
            <p>{message}</p>
            <ul data-testid="readers">
                {rows.into_iter().map(|(reader, before, new)| view! {
                    <li>
                        <strong>{reader.name.clone()}</strong> " <" {reader.email.clone()} "> · "
                        {reader.organisation.clone()} " (" {reader.handle.clone()} ")"
                        {new.then(|| view! { " · " <em>"new to this browser"</em> })}
                        {before.map(|pinned| view! { <br />"seen before: " <code>{pinned}</code> })}
                        <br />"fingerprint: " <code data-testid="reader-fingerprint">{reader.fingerprint.clone()}</code>
                    </li>
                }).collect_view()}
            </ul>
            <p class="muted">
                "Each reader's fingerprint is on their Sealpost dashboard, as text and as a QR code: "
                "have them read it out on the phone, or scan theirs with your phone, and compare."
            </p>
            <Show when=move || can_accept>
                <button type="button" class="secondary" data-testid="accept-keys" on:click=accept.clone()>
                    "I compared the fingerprints: encrypt to exactly these readers"
                </button>
            </Show>
        </section>
    }
}
