//! Says when the app's bundle differs from the one this browser ran last time (old → new
//! SHA-256), and where to check the new one: the first step towards a client a firm can verify.
//! It decides nothing itself; `shell` supplies the digests.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::shell::{self, BundleChange};

#[component]
pub fn BundleNotice() -> impl IntoView {
    let change = RwSignal::new(None::<BundleChange>);
    spawn_local(async move {
        if let Some(current) = shell::running_bundle().await {
            change.set(shell::remember(&current));
        }
    });
    move || {
        change.get().map(|BundleChange { previous, current }| {
            view! {
                <section class="banner banner-warn notice" role="status" aria-label="App updated" data-testid="bundle-changed">
                    <p>
                        <strong>"Sealpost was updated since you last used it in this browser."</strong>
                        " App bundle "<code data-testid="bundle-previous">{previous}</code>
                        " → "<code data-testid="bundle-current">{current}</code>"."
                    </p>
                    <p>
                        "To check that this is a release and not a changed copy, compare the new SHA-256 with the one your relay's operator publishes for each release ("
                        <a href="/.well-known/sealpost-client.sha256">"this relay's file list"</a>
                        " shows each file's hash; SECURITY.md tells how to build and check a release yourself)."
                    </p>
                    <button type="button" on:click=move |_| change.set(None)>"Noted"</button>
                </section>
            }
        })
    }
}
