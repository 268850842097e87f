//! Shows the relay's health, version, protocol and the SHA-256 of the client bundle it serves
//! (so a user can compare it with a published build), fetched from `/api/health`.

use leptos::prelude::*;

use crate::api;

#[component]
pub fn RelayStatus() -> impl IntoView {
    let health = LocalResource::new(api::health);
    view! {
        <section class="relay-status" aria-label="Relay status" data-testid="relay-status">
            <Suspense fallback=|| view! { <span class="muted">"Checking the relay…"</span> }>
                {move || {
                    health
                        .get()
                        .map(|result| match result {
                            Ok(health) => {
                                let bundle = if health.client_sha256.is_empty() {
                                    "not embedded".to_owned()
                                } else {
                                    health.client_sha256.clone()
                                };
                                view! {
                                    <span class="status-ok" data-testid="relay-health">
                                        "Relay "
                                        {health.status}
                                    </span>
                                    <span data-testid="relay-version">
                                        " · version " {health.version}
                                    </span>
                                    <span>" · protocol v" {health.protocol}</span>
                                    <span class="bundle-hash" title="SHA-256 of the app bundle">
                                        " · app bundle " <code>{bundle}</code>
                                    </span>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <span class="status-error" role="alert" data-testid="relay-error">
                                        {error.to_string()}
                                    </span>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}
