//! Confirming a sign-up with the link the relay mailed (`/confirm#<token>`). The token is read
//! from the fragment, which never reaches the relay's logs, and removed from the address bar at
//! once; opening the page creates the account, and its owner then logs in with their password.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use shared::wire::SignupConfirmed;

use crate::api;
use crate::routes::Page;

#[component]
pub fn Confirm() -> impl IntoView {
    let token = crate::browser::take_fragment();
    let outcome = RwSignal::new(None::<Result<SignupConfirmed, String>>);
    spawn_local(async move {
        let answer = match token {
            Some(token) => api::confirm_signup(&token)
                .await
                .map_err(|failure| failure.to_string()),
            None => Err("this page needs the whole link from the confirmation mail".to_owned()),
        };
        outcome.set(Some(answer));
    });
    view! {
        <section class="auth-card">
            <h1>"Confirm your account"</h1>
            {move || match outcome.get() {
                None => view! { <p class="muted" role="status">"Creating your account…"</p> }.into_any(),
                Some(Err(problem)) => view! {
                    <p class="status-error" role="alert" data-testid="confirm-error">{problem}</p>
                    <p><A href=Page::Signup.path()>"Sign up again"</A></p>
                }.into_any(),
                Some(Ok(done)) => view! {
                    <p class="status-ok" role="status" data-testid="confirmed">{format!(
                        "The account {} and the organisation {} exist now. The relay's operator verifies new organisations before they can send.",
                        done.email, done.organisation
                    )}</p>
                    <p><A href=Page::Login.path()>"Log in"</A>" with the password you chose."</p>
                }.into_any(),
            }}
        </section>
    }
}
