//! Joining an organisation with an invite link (`/join#<token>`). The token is read from the
//! fragment, which never reaches the relay's logs, and removed from the address bar at once.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use shared::crypto::Passphrase;
use shared::wire::InviteLookupResponse;

use crate::account::{self, Joining, MIN_PASSWORD_CHARS, SignedUp, SignupForm};
use crate::api;
use crate::auth::use_auth;
use crate::routes::Page;

#[component]
pub fn Join() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let token = crate::browser::take_fragment();
    let invite = RwSignal::new(None::<Result<InviteLookupResponse, String>>);
    let name = RwSignal::new(String::new());
    let password: NodeRef<html::Input> = NodeRef::new();
    let confirmation: NodeRef<html::Input> = NodeRef::new();
    let busy = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<String>);
    {
        let token = token.clone();
        spawn_local(async move {
            let answer = match token {
                Some(token) => api::invite_lookup(&token).await.map_err(|e| e.to_string()),
                None => Err("this page needs the invite link you were sent".to_owned()),
            };
            invite.set(Some(answer));
        });
    }
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(token), Some(Ok(details)), Some(first), Some(second)) = (
            token.clone(),
            invite.get_untracked(),
            password.get(),
            confirmation.get(),
        ) else {
            return;
        };
        let min_password_chars =
            usize::try_from(details.min_password_length).unwrap_or(MIN_PASSWORD_CHARS);
        let form = SignupForm {
            min_password_chars,
            email: details.email,
            name: name.get_untracked(),
            joining: Joining::Invitation { token },
            password: Passphrase::new(first.value()),
            confirmation: Passphrase::new(second.value()),
        };
        busy.set(Some("Starting…"));
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            let outcome = account::sign_up(form, |step| busy.set(Some(step.describe()))).await;
            busy.set(None);
            match outcome {
                Ok(SignedUp::LoggedIn(api, key)) => {
                    first.set_value("");
                    second.set_value("");
                    auth.set(*api, Some(*key));
                    navigate(Page::Dashboard.path(), Default::default());
                }
                // An invitation's address was confirmed by the invitation itself.
                Ok(SignedUp::ConfirmByMail(_)) => error.set(Some(
                    "the relay asked to confirm the address by mail; open the link it sent"
                        .to_owned(),
                )),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    view! {
        <section class="auth-card">
            {move || match invite.get() {
                None => view! { <p class="muted">"Checking your invitation…"</p> }.into_any(),
                Some(Err(problem)) => view! { <p class="status-error" role="alert" data-testid="join-error">{problem}</p> }.into_any(),
                Some(Ok(details)) => view! {
                    <h1>{format!("Join {}", details.organisation)}</h1>
                    <p data-testid="join-details">{format!("You are invited as {} ({:?}).", details.email, details.role).to_lowercase()}</p>
                }.into_any(),
            }}
            <form on:submit=submit>
                <label>"Your name" <input type="text" name="name" required maxlength="100" bind:value=name /></label>
                <label>
                    {move || {
                        let minimum = invite
                            .get()
                            .and_then(Result::ok)
                            .map_or(MIN_PASSWORD_CHARS as u32, |details| details.min_password_length);
                        format!("Password (at least {minimum} characters)")
                    }}
                    <input type="password" name="password" required autocomplete="new-password" node_ref=password />
                </label>
                <label>"Password again" <input type="password" name="confirmation" required autocomplete="new-password" node_ref=confirmation /></label>
                <button type="submit" disabled=move || busy.get().is_some()>"Join"</button>
            </form>
            <Show when=move || busy.get().is_some()>
                <p class="progress" role="status">{move || busy.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="form-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
