//! Setting up the second factor: the relay hands out a TOTP secret, shown here as a QR code
//! (drawn in the browser as an SVG image, no third party) and as text; the first code from the
//! app confirms it, and the ten recovery codes are shown once.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::wire::MfaSetupResponse;

use crate::auth::use_auth;

#[component]
pub fn MfaSetup() -> impl IntoView {
    let auth = use_auth();
    let setup = RwSignal::new(None::<MfaSetupResponse>);
    let code = RwSignal::new(String::new());
    let recovery = RwSignal::new(None::<Vec<String>>);
    let error = RwSignal::new(None::<String>);
    let enabled = move || auth.api.get().is_some_and(|api| api.session().mfa_enabled);

    let start = move |_| {
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        error.set(None);
        spawn_local(async move {
            match api.mfa_setup().await {
                Ok(answer) => setup.set(Some(answer)),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    let confirm = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let typed = code.get_untracked();
        error.set(None);
        spawn_local(async move {
            match api.mfa_confirm(&typed).await {
                Ok(answer) => {
                    recovery.set(Some(
                        answer
                            .recovery_codes
                            .iter()
                            .map(|code| code.dangerously_expose().to_owned())
                            .collect(),
                    ));
                    setup.set(None);
                    if let Ok(Some(refreshed)) = crate::api::resume().await {
                        auth.api.set(Some(refreshed));
                    }
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section class="auth-card" data-testid="mfa">
            <h2>"Two-factor authentication"</h2>
            {move || match (enabled(), setup.get()) {
                (true, _) => view! { <p class="status-ok" data-testid="mfa-on">"On: log-in asks for a code from your authenticator app."</p> }.into_any(),
                (false, None) => view! {
                    <p>"Add a code from an authenticator app to every log-in."</p>
                    <button type="button" on:click=start>"Set up"</button>
                }.into_any(),
                (false, Some(answer)) => view! {
                    <p>"Scan this code with your authenticator app, or type the secret in."</p>
                    <img class="qr" src=crate::components::qr::data_uri(answer.otpauth_uri.dangerously_expose()) alt="QR code of your authenticator secret" width="200" height="200" />
                    <p><code data-testid="mfa-secret">{answer.secret.dangerously_expose().to_owned()}</code></p>
                    <form on:submit=confirm>
                        <label>"First code from the app" <input type="text" name="mfa-code" required autocomplete="one-time-code" inputmode="numeric" bind:value=code /></label>
                        <button type="submit">"Confirm"</button>
                    </form>
                }.into_any(),
            }}
            <Show when=move || recovery.get().is_some()>
                <p>"Your recovery codes. Each works once if you lose your phone. Store them safely; they are not shown again."</p>
                <ul class="codes" data-testid="recovery-codes">
                    {move || recovery.get().unwrap_or_default().into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
                </ul>
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert" data-testid="mfa-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
