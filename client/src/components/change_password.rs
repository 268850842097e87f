//! Changing one's password: the current password proves who you are, the new one re-seals your
//! private key in this browser; documents stay readable because the key pair does not change.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::crypto::Passphrase;

use crate::account;
use crate::auth::use_auth;

#[component]
pub fn ChangePassword() -> impl IntoView {
    let auth = use_auth();
    let current: NodeRef<html::Input> = NodeRef::new();
    let new: NodeRef<html::Input> = NodeRef::new();
    let again: NodeRef<html::Input> = NodeRef::new();
    let busy = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<(), String>>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(current), Some(new), Some(again), Some(api)) = (
            current.get(),
            new.get(),
            again.get(),
            auth.api.get_untracked(),
        ) else {
            return;
        };
        let passwords = (
            Passphrase::new(current.value()),
            Passphrase::new(new.value()),
            Passphrase::new(again.value()),
        );
        busy.set(true);
        outcome.set(None);
        spawn_local(async move {
            let result =
                account::change_password(&api, &passwords.0, &passwords.1, &passwords.2).await;
            busy.set(false);
            match result {
                Ok((api, key)) => {
                    for input in [&current, &new, &again] {
                        input.set_value("");
                    }
                    auth.set(api, Some(key));
                    outcome.set(Some(Ok(())));
                }
                Err(failure) => outcome.set(Some(Err(failure.to_string()))),
            }
        });
    };
    view! {
        <section class="auth-card" data-testid="change-password">
            <h2>"Change your password"</h2>
            <form on:submit=submit>
                <label>"Current password" <input type="password" name="current-password" required autocomplete="current-password" node_ref=current /></label>
                <label>"New password" <input type="password" name="new-password" required autocomplete="new-password" node_ref=new /></label>
                <label>"New password again" <input type="password" name="new-password-again" required autocomplete="new-password" node_ref=again /></label>
                <button type="submit" disabled=move || busy.get()>"Change password"</button>
            </form>
            {move || outcome.get().map(|result| match result {
                Ok(()) => view! { <p class="status-ok" role="status" data-testid="password-changed">"Password changed. Your other sessions have ended."</p> }.into_any(),
                Err(problem) => view! { <p class="status-error" role="alert" data-testid="password-error">{problem}</p> }.into_any(),
            })}
        </section>
    }
}
