//! The loud stop when the keys the relay served are not the ones expected: which person's key
//! changed, the fingerprint seen before and the one served now, and (only after the user says
//! they compared them with that person) accepting the new key.

use leptos::prelude::*;
use shared::ids::Id;

use crate::pins::{self, KeyWarning};

#[component]
pub fn KeyWarningBox(
    warning: KeyWarning,
    /// The logged-in user (whose pins change), if any.
    me: Option<Id>,
    /// Called after the new keys were accepted, to try again.
    on_accept: Callback<()>,
) -> impl IntoView {
    let message = warning.to_string();
    let changes = match &warning {
        KeyWarning::Changed(changes) => changes.clone(),
        _ => Vec::new(),
    };
    let accept = {
        let changes = changes.clone();
        move |_| {
            if let Some(me) = me {
                pins::accept(me, &changes);
                on_accept.run(());
            }
        }
    };
    let can_accept = me.is_some() && !changes.is_empty();
    view! {
        <section class="banner banner-warn key-warning" role="alert" data-testid="key-warning">
            <h2>"Key check failed"</h2>
            <p>{message}</p>
            <ul>
                {changes.iter().map(|change| view! {
                    <li>
                        <strong>{change.name.clone()}</strong> " (" {change.organisation.clone()} ")"
                        <br />"seen before: " <code>{change.pinned.clone()}</code>
                        <br />"offered now: " <code>{change.served.clone()}</code>
                    </li>
                }).collect_view()}
            </ul>
            <Show when=move || can_accept>
                <button type="button" class="secondary" data-testid="accept-keys" on:click=accept.clone()>
                    "I compared the new fingerprints with them: accept and try again"
                </button>
            </Show>
        </section>
    }
}
