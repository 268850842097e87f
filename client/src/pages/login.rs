//! Log-in: the password derives the auth key (sent) and the wrap key (kept) in this browser;
//! with a second factor, a code from the authenticator app (or a recovery code) follows; the
//! private key is then unlocked into memory.

use std::sync::Arc;

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use shared::crypto::Passphrase;

use crate::account::{self, LoginStep, PendingLogin};
use crate::auth::use_auth;
use crate::routes::Page;

#[component]
pub fn Login() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let password: NodeRef<html::Input> = NodeRef::new();
    let busy = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(None::<Arc<PendingLogin>>);

    let submit = {
        let navigate = navigate.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            let Some(password_input) = password.get() else {
                return;
            };
            let passphrase = Passphrase::new(password_input.value());
            let address = email.get_untracked();
            error.set(None);
            busy.set(Some("Starting…"));
            let navigate = navigate.clone();
            spawn_local(async move {
                let outcome = account::log_in(&address, &passphrase, |step| {
                    busy.set(Some(step.describe()))
                })
                .await;
                busy.set(None);
                match outcome {
                    Ok(LoginStep::Done(done)) => {
                        let (api, key) = *done;
                        password_input.set_value("");
                        auth.set(api, Some(key));
                        navigate(Page::Dashboard.path(), Default::default());
                    }
                    Ok(LoginStep::NeedsCode(waiting)) => {
                        password_input.set_value("");
                        pending.set(Some(Arc::new(waiting)));
                    }
                    Err(failure) => error.set(Some(failure.to_string())),
                }
            });
        }
    };

    let submit_code = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(waiting) = pending.get_untracked() else {
            return;
        };
        let typed = code.get_untracked();
        error.set(None);
        busy.set(Some("Checking the code…"));
        let navigate = navigate.clone();
        spawn_local(async move {
            let outcome = account::finish_log_in(&waiting, &typed).await;
            busy.set(None);
            match outcome {
                Ok((api, key)) => {
                    auth.set(api, Some(key));
                    navigate(Page::Dashboard.path(), Default::default());
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section class="auth-card">
            <h1>"Log in"</h1>
            <Show
                when=move || pending.with(Option::is_some)
                fallback=move || view! {
                    <form on:submit=submit.clone()>
                        <label>"E-mail" <input type="email" name="email" required autocomplete="username" bind:value=email /></label>
                        <label>"Password" <input type="password" name="password" required autocomplete="current-password" node_ref=password /></label>
                        <button type="submit" disabled=move || busy.get().is_some()>"Log in"</button>
                    </form>
                }
            >
                <form on:submit=submit_code.clone() data-testid="code-form">
                    <label>
                        "Code from your authenticator app (or a recovery code)"
                        <input type="text" name="code" required autocomplete="one-time-code" inputmode="numeric" bind:value=code />
                    </label>
                    <button type="submit" disabled=move || busy.get().is_some()>"Continue"</button>
                </form>
            </Show>
            <Show when=move || busy.get().is_some()>
                <p class="progress" role="status">{move || busy.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="form-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <p>"New here? " <A href=Page::Signup.path()>"Create an organisation"</A></p>
        </section>
    }
}
