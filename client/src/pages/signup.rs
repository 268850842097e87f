//! Sign-up: a new organisation and its owner. The password is read from its field only when
//! the form is sent, used for key derivation in this browser, and never leaves it.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use shared::crypto::Passphrase;

use crate::account::{self, Joining, MIN_PASSWORD_CHARS, SignupForm};
use crate::auth::use_auth;
use crate::routes::Page;

#[component]
pub fn Signup() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let organisation = RwSignal::new(String::new());
    let handle = RwSignal::new(String::new());
    let password: NodeRef<html::Input> = NodeRef::new();
    let confirmation: NodeRef<html::Input> = NodeRef::new();
    let busy = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<String>);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(password_input), Some(confirmation_input)) = (password.get(), confirmation.get())
        else {
            return;
        };
        let form = SignupForm {
            email: email.get_untracked(),
            name: name.get_untracked(),
            joining: Joining::NewOrganisation {
                name: organisation.get_untracked(),
                handle: handle.get_untracked(),
            },
            password: Passphrase::new(password_input.value()),
            confirmation: Passphrase::new(confirmation_input.value()),
            min_password_chars: MIN_PASSWORD_CHARS,
        };
        error.set(None);
        busy.set(Some("Starting…"));
        let navigate = navigate.clone();
        spawn_local(async move {
            let outcome = account::sign_up(form, |step| busy.set(Some(step.describe()))).await;
            busy.set(None);
            match outcome {
                Ok((api, key)) => {
                    password_input.set_value("");
                    confirmation_input.set_value("");
                    auth.set(api, Some(key));
                    navigate(Page::Dashboard.path(), Default::default());
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section class="auth-card">
            <h1>"Create your organisation"</h1>
            <p class="muted">
                "Your keys are made in this browser. Your password never leaves it: if you lose it, "
                "nobody, not even the operator, can recover your documents."
            </p>
            <form on:submit=submit>
                <label>"Your e-mail" <input type="email" name="email" required autocomplete="email" bind:value=email /></label>
                <label>"Your name" <input type="text" name="name" required maxlength="100" bind:value=name /></label>
                <label>"Organisation name" <input type="text" name="organisation" required maxlength="100" bind:value=organisation /></label>
                <label>
                    "Organisation handle (letters, digits, dashes)"
                    <input type="text" name="handle" required minlength="3" maxlength="32" pattern="[a-z0-9]+(-[a-z0-9]+)*" bind:value=handle />
                </label>
                <label>
                    {format!("Password (at least {MIN_PASSWORD_CHARS} characters)")}
                    <input type="password" name="password" required autocomplete="new-password" node_ref=password />
                </label>
                <label>"Password again" <input type="password" name="confirmation" required autocomplete="new-password" node_ref=confirmation /></label>
                <button type="submit" disabled=move || busy.get().is_some()>"Create account"</button>
            </form>
            <Show when=move || busy.get().is_some()>
                <p class="progress" role="status" data-testid="progress">{move || busy.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="form-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <p>"Already have an account? " <A href=Page::Login.path()>"Log in"</A></p>
        </section>
    }
}
