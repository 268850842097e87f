//! The Sealpost web app (Leptos, client-side rendered). `App` holds the router and the shared
//! `Auth` state; pages live in `pages/`, reusable pieces in `components/`, and `api` is the only
//! module that speaks HTTP. Nothing decrypted or secret ever leaves this crate except as
//! ciphertext through `api`; passwords are used only in `account`.

pub mod account;
pub mod api;
pub mod auth;
pub mod connectivity;
pub mod crypto;
pub mod documents;
pub mod pins;
pub mod receive;
pub mod routes;
pub mod save_all;
pub mod send;
pub mod shell;

mod browser;
mod components;
mod download;
mod export;
mod pages;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The whole application.
#[component]
pub fn App() -> impl IntoView {
    let auth = auth::Auth::new();
    provide_context(auth);
    // A session cookie may survive a reload; the private key does not (it is asked for again).
    spawn_local(async move {
        if let Ok(Some(api)) = api::resume().await {
            auth.set(api, None);
        }
        auth.checked.set(true);
    });
    spawn_local(shell::register());
    view! {
        <Router>
            <components::header::Header />
            <components::offline_notice::OfflineNotice />
            <components::bundle_notice::BundleNotice />
            <main id="main">
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::landing::Landing />
                    <Route path=path!("/signup") view=pages::signup::Signup />
                    <Route path=path!("/login") view=pages::login::Login />
                    <Route path=path!("/app") view=pages::dashboard::Dashboard />
                    <Route path=path!("/app/audit") view=pages::audit::Audit />
                    <Route path=path!("/app/members") view=pages::members::Members />
                    <Route path=path!("/join") view=pages::join::Join />
                    <Route path=path!("/confirm") view=pages::confirm::Confirm />
                    <Route path=path!("/app/send") view=pages::send::Send />
                    <Route path=path!("/app/sent") view=pages::sent::Sent />
                    <Route path=path!("/app/payouts") view=pages::payouts::Payouts />
                    <Route path=path!("/app/requests") view=pages::requests::Requests />
                    <Route path=path!("/app/requests/:id") view=pages::request::Request />
                    <Route path=path!("/app/inbox") view=pages::inbox::Inbox />
                    <Route path=path!("/app/documents/:id") view=pages::document::Document />
                    <Route path=path!("/app/transfer") view=pages::transfer::Transfer />
                    <Route path=path!("/app/portal") view=pages::portal_settings::PortalSettingsPage />
                    <Route path=path!("/r/:id") view=pages::request_link::RequestLink />
                    <Route path=path!("/p/:handle") view=pages::portal::Portal />
                    <Route path=path!("/l/:id") view=pages::link::Link />
                </Routes>
            </main>
            <components::footer::Footer />
        </Router>
    }
}
