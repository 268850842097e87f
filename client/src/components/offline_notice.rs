//! Says when the relay cannot be reached (no network, or the relay is down) and what still
//! needs it. The installed app starts without a network; signing in, sending, receiving and
//! saving documents do not work without the relay, and transfers under way wait for it. Checks
//! at start, when the browser's network comes or goes, and every few seconds while the relay
//! is unreachable (`connectivity`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::Closure;

use crate::connectivity;

#[component]
pub fn OfflineNotice() -> impl IntoView {
    let unreachable = connectivity::unreachable();
    let watching = StoredValue::new(false);
    let check = move || {
        if watching.get_value() {
            return;
        }
        watching.set_value(true);
        spawn_local(async move {
            if !connectivity::check().await {
                connectivity::wait_for_relay().await;
            }
            watching.set_value(false);
        });
    };
    check();
    if let Some(window) = web_sys::window() {
        let on_change = Closure::<dyn Fn()>::new(check);
        for event in ["online", "offline"] {
            let _ =
                window.add_event_listener_with_callback(event, on_change.as_ref().unchecked_ref());
        }
        // The app lives as long as the page: the listener does too.
        on_change.forget();
    }
    move || {
        unreachable.get().then(|| {
            view! {
                <section class="banner banner-warn notice" role="status" aria-label="Offline" data-testid="offline-notice">
                    <p>
                        <strong>"You are offline, or the relay cannot be reached."</strong>
                        " The app itself works without a network, but signing in, sending, receiving, requesting and saving documents need the relay. Uploads and downloads under way are paused and go on by themselves when it can be reached again."
                    </p>
                </section>
            }
        })
    }
}
