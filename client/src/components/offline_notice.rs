//! Says when the relay cannot be reached (no network, or the relay is down) and what still
//! needs it. The installed app starts without a network; signing in, sending, receiving and
//! saving documents do not work without the relay. Checks again when the browser is back
//! online, and every few seconds while the relay is unreachable.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::Closure;

use crate::{api, browser};

/// How often to check again while the relay cannot be reached.
const RECHECK_MS: i32 = 5_000;

#[component]
pub fn OfflineNotice() -> impl IntoView {
    let unreachable = RwSignal::new(false);
    let checking = StoredValue::new(false);
    let check = move || {
        if checking.get_value() {
            return;
        }
        checking.set_value(true);
        spawn_local(async move {
            loop {
                let offline = browser::is_offline() || api::health().await.is_err();
                unreachable.set(offline);
                if !offline {
                    break;
                }
                browser::sleep(RECHECK_MS).await;
            }
            checking.set_value(false);
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
                        " The app itself works without a network, but signing in, sending, receiving, requesting and saving documents need the relay: they will work again as soon as it can be reached."
                    </p>
                </section>
            }
        })
    }
}
