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
mod lazy;
mod pages;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, path};

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
                    <Route path=path!("/signup") view={Lazy::<lazy::SignupPage>::new()} />
                    <Route path=path!("/api-reference") view={Lazy::<lazy::ApiReferencePage>::new()} />
                    <Route path=path!("/login") view=pages::login::Login />
                    <Route path=path!("/app") view={Lazy::<lazy::DashboardPage>::new()} />
                    <Route path=path!("/app/audit") view={Lazy::<lazy::AuditPage>::new()} />
                    <Route path=path!("/app/members") view={Lazy::<lazy::MembersPage>::new()} />
                    <Route path=path!("/app/api-keys") view={Lazy::<lazy::ApiKeysPage>::new()} />
                    <Route path=path!("/app/webhooks") view={Lazy::<lazy::WebhooksPage>::new()} />
                    <Route path=path!("/join") view={Lazy::<lazy::JoinPage>::new()} />
                    <Route path=path!("/confirm") view={Lazy::<lazy::ConfirmPage>::new()} />
                    <Route path=path!("/app/send") view={Lazy::<lazy::SendPage>::new()} />
                    <Route path=path!("/app/sent") view={Lazy::<lazy::SentPage>::new()} />
                    <Route path=path!("/app/payouts") view={Lazy::<lazy::PayoutsPage>::new()} />
                    <Route path=path!("/app/requests") view={Lazy::<lazy::RequestsPage>::new()} />
                    <Route path=path!("/app/requests/:id") view={Lazy::<lazy::RequestPage>::new()} />
                    <Route path=path!("/app/inbox") view={Lazy::<lazy::InboxPage>::new()} />
                    <Route path=path!("/app/documents/:id") view={Lazy::<lazy::DocumentPage>::new()} />
                    <Route path=path!("/app/transfer") view={Lazy::<lazy::TransferPage>::new()} />
                    <Route path=path!("/app/portal") view={Lazy::<lazy::PortalSettingsPage>::new()} />
                    <Route path=path!("/r/:id") view={Lazy::<lazy::RequestLinkPage>::new()} />
                    <Route path=path!("/p/:handle") view={Lazy::<lazy::PortalPage>::new()} />
                    <Route path=path!("/l/:id") view={Lazy::<lazy::LinkPage>::new()} />
                </Routes>
            </main>
            <components::footer::Footer />
        </Router>
    }
}
