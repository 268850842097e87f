//! The signed-in home: who you are, your organisation's standing with the operator (and what it
//! means you can do; looked at again every few seconds while pending, so the verification shows
//! without a reload), your key's fingerprint to compare with correspondents, unlocking after a
//! reload, and logging out here or everywhere.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use shared::crypto::UserPublicKey;
use shared::wire::{OrgStatus, Role};

use crate::auth::use_auth;
use crate::routes::Page;

#[component]
pub fn Dashboard() -> impl IntoView {
    let auth = use_auth();
    // Re-render only when logged-in-ness changes, not on every session refresh (which would
    // reset the forms below).
    let logged_in = Memo::new(move |_| auth.api.with(Option::is_some));
    view! {
        {move || match (auth.checked.get(), logged_in.get()) {
            (false, _) => view! { <p class="muted">"Loading…"</p> }.into_any(),
            (true, false) => view! {
                <section class="auth-card">
                    <h1>"You are not logged in"</h1>
                    <p><A href=Page::Login.path()>"Log in"</A> " or " <A href=Page::Signup.path()>"create an organisation"</A></p>
                </section>
            }.into_any(),
            (true, true) => view! { <Home /> }.into_any(),
        }}
    }
}

#[component]
fn Home() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let session = move || auth.api.get().map(|api| api.session().clone());
    let error = RwSignal::new(None::<String>);
    // The operator's verification shows up here without a reload.
    crate::components::standing::poll_while_pending(auth);

    let log_out = move |everywhere: bool| {
        let navigate = navigate.clone();
        move |_| {
            let Some(api) = auth.api.get_untracked() else {
                return;
            };
            let navigate = navigate.clone();
            spawn_local(async move {
                let outcome = if everywhere {
                    api.logout_everywhere().await
                } else {
                    api.logout().await
                };
                match outcome {
                    Ok(()) => {
                        auth.clear();
                        navigate(Page::Login.path(), Default::default());
                    }
                    Err(failure) => error.set(Some(failure.to_string())),
                }
            });
        }
    };

    view! {
        {move || session().map(|session| {
            let status = session.organisation.status;
            let fingerprint = UserPublicKey::from_spki_der(&session.keys.public_key)
                .map(|key| key.fingerprint().to_string())
                .unwrap_or_else(|_| "unreadable key".to_owned());
            let can_audit = matches!(session.user.role, Role::Owner | Role::Admin);
            let is_owner = session.user.role == Role::Owner;
            view! {
                <section class="dashboard">
                    <h1>{format!("Welcome, {}", session.user.name)}</h1>
                    <p data-testid="org-status" class=status_class(status)>{status_text(status)}</p>
                    <dl class="facts">
                        <dt>"Organisation"</dt>
                        <dd>{session.organisation.name.clone()} " (" <code>{session.organisation.handle.clone()}</code> ")"</dd>
                        <dt>"You"</dt>
                        <dd>{session.user.email.clone()} " · " {role_text(session.user.role)}</dd>
                        <dt>"Your key fingerprint"</dt>
                        <dd>
                            <code data-testid="fingerprint">{fingerprint.clone()}</code>
                            <details>
                                <summary>"Show as a QR code"</summary>
                                <img class="qr" src=crate::components::qr::data_uri(&format!("sealpost key {}/{} {fingerprint}", session.organisation.handle, session.user.email)) alt="QR code of your organisation handle, address and key fingerprint" width="200" height="200" />
                                <p class="muted">"Correspondents compare this with what their browser shows before it first encrypts to you."</p>
                            </details>
                        </dd>
                    </dl>
                    <p class="links">
                        <A href=Page::Send.path()>"Send documents"</A>
                        " · "
                        <A href=Page::Sent.path()>"Sent"</A>
                        " · "
                        <A href=Page::Inbox.path()>"Inbox"</A>
                        " · "
                        <A href=Page::Requests.path()>"Requests"</A>
                        " · "
                        <A href=Page::Transfer.path()>"Chart transfer"</A>
                    </p>
                    <Show when=move || can_audit>
                        <p class="links">
                            <A href=Page::Members.path()>"Members"</A>
                            " · "
                            <A href=Page::Audit.path()>"Audit log"</A>
                            " · "
                            <A href=Page::ApiKeys.path()>"API keys"</A>
                            " · "
                            <A href=Page::Webhooks.path()>"Webhooks"</A>
                        </p>
                    </Show>
                    <Show when=move || is_owner>
                        <p class="links">
                            <A href=Page::Payouts.path()>"Payments and payouts"</A>
                            " · "
                            <A href=Page::PortalSettings.path()>"Portal and intake"</A>
                        </p>
                    </Show>
                </section>
            }
        })}
        <Show when=move || auth.api.get().is_some_and(|api| api.session().password_expired)>
            <p class="banner banner-warn" role="alert" data-testid="password-expired">
                "Your password is older than your organisation allows. Change it before anything else."
            </p>
        </Show>
        <Show when=move || !auth.is_unlocked() && !auth.api.get().is_some_and(|api| api.session().password_expired)>
            <crate::components::unlock::Unlock />
        </Show>
        <Show when=move || auth.api.get().is_some_and(|api| api.session().mfa_enrolment_required)>
            <p class="banner banner-warn" role="alert" data-testid="mfa-required">
                "Your organisation requires two-factor authentication. Set it up before anything else."
            </p>
        </Show>
        <crate::components::mfa::MfaSetup />
        <details class="settings" open=move || auth.api.get().is_some_and(|api| api.session().password_expired)>
            <summary>"Password"</summary>
            <crate::components::change_password::ChangePassword />
        </details>
        <div class="actions">
            <button type="button" on:click=log_out(false)>"Log out"</button>
            <button type="button" class="secondary" on:click=log_out(true)>"Log out everywhere"</button>
        </div>
        <Show when=move || error.get().is_some()>
            <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
        </Show>
    }
}

fn status_text(status: OrgStatus) -> &'static str {
    match status {
        OrgStatus::Pending => {
            "Waiting for verification: the operator has not verified your organisation yet. \
             Until then you can look around, but you cannot send or request documents."
        }
        OrgStatus::Verified => "Verified by the operator: you can send and request documents.",
        OrgStatus::Suspended => {
            "Suspended by the operator: you can log in, but you cannot send or request documents."
        }
        OrgStatus::Closed => "Closed: this organisation no longer sends or receives anything.",
    }
}

fn status_class(status: OrgStatus) -> &'static str {
    match status {
        OrgStatus::Verified => "banner banner-ok",
        OrgStatus::Pending | OrgStatus::Suspended | OrgStatus::Closed => "banner banner-warn",
    }
}

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}
