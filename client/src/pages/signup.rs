//! Sign-up: a new organisation and its owner. The password is read from its field only when
//! the form is sent, used for key derivation in this browser, and never leaves it.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use shared::crypto::Passphrase;

use crate::account::{self, Joining, MIN_PASSWORD_CHARS, SignedUp, SignupForm};
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
    let pending = RwSignal::new(None::<shared::wire::SignupPending>);

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
                Ok(SignedUp::LoggedIn(api, key)) => {
                    password_input.set_value("");
                    confirmation_input.set_value("");
                    auth.set(*api, Some(*key));
                    navigate(Page::Dashboard.path(), Default::default());
                }
                Ok(SignedUp::ConfirmByMail(answer)) => {
                    password_input.set_value("");
                    confirmation_input.set_value("");
                    pending.set(Some(answer));
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let form_view = move || {
        view! {
            <form on:submit=submit.clone()>
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
        }
    };

    view! {
        <section class="auth-card">
            <h1>"Create your organisation"</h1>
            <p class="muted">
                "Your keys are made in this browser. Your password never leaves it: if you lose it, "
                "nobody, not even the operator, can recover your documents."
            </p>
            {move || match pending.get() {
                None => form_view().into_any(),
                Some(answer) => view! {
                    <div class="status-ok" role="status" data-testid="signup-pending">
                        <h2>"Check your mail"</h2>
                        <p>{format!(
                            "We wrote to {}. If the address can have a new account, the mail holds a link that creates it: open it within {} hours, then log in with the password you chose. If the address has an account already, the mail says so instead.",
                            answer.email, answer.valid_hours
                        )}</p>
                        <p class="muted">"Nothing is created until the link is opened, and this page says the same whatever the address, so nobody can use it to find out who has an account."</p>
                    </div>
                }.into_any(),
            }}
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
