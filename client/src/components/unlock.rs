//! Unlocking the private key after a reload: the session survives a reload, the private key
//! (in memory only) does not, so the password is asked for again; it never leaves this
//! browser.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::crypto::Passphrase;

use crate::account;
use crate::auth::use_auth;

/// After a reload the session survives but the private key does not: ask for the password.
#[component]
pub fn Unlock() -> impl IntoView {
    let auth = use_auth();
    let password: NodeRef<html::Input> = NodeRef::new();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(input), Some(api)) = (password.get(), auth.api.get_untracked()) else {
            return;
        };
        let passphrase = Passphrase::new(input.value());
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = account::unlock(&api.session().keys, &passphrase).await;
            busy.set(false);
            match outcome {
                Ok(key) => {
                    input.set_value("");
                    auth.unlock(key);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    view! {
        <section class="auth-card" data-testid="unlock">
            <h2>"Unlock your keys"</h2>
            <p class="muted">"Your private key stays in memory only; after a reload, enter your password to unlock it."</p>
            <form on:submit=submit>
                <label>"Password" <input type="password" name="unlock-password" required autocomplete="current-password" node_ref=password /></label>
                <button type="submit" disabled=move || busy.get()>"Unlock"</button>
            </form>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="unlock-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
