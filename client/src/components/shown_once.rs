//! A secret the relay answers once (an API key, a webhook's signing secret): shown in a banner
//! with what to do with it, while `secret` holds it; the page drops it on the next change.

use leptos::prelude::*;

#[component]
pub fn ShownOnce(
    /// What the secret is and why to copy it now.
    says: &'static str,
    /// Finds the banner in tests.
    testid: &'static str,
    secret: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        <Show when=move || secret.get().is_some()>
            <div class="banner" role="status" data-testid=testid>
                <p>{says}</p>
                <p><code>{move || secret.get().unwrap_or_default()}</code></p>
            </div>
        </Show>
    }
}
