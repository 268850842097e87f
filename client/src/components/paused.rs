//! The line a transfer's progress shows while the relay cannot be reached: the transfer waits
//! and goes on by itself (`connectivity`). Shows nothing otherwise.

use leptos::prelude::*;

use crate::connectivity;

#[component]
pub fn Paused() -> impl IntoView {
    let unreachable = connectivity::unreachable();
    move || {
        unreachable.get().then(|| {
            view! {
                <p class="paused" data-testid="transfer-paused">
                    <strong>"Paused: offline."</strong>
                    " The relay cannot be reached; this will resume by itself when it can."
                </p>
            }
        })
    }
}
