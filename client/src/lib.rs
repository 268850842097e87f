//! The Sealpost web app (Leptos, client-side rendered). `App` holds the router; pages live in
//! `pages/`, reusable pieces in `components/`, and `api` is the only module that speaks HTTP.
//! Nothing decrypted or secret ever leaves this crate except as ciphertext through `api`.

pub mod api;
pub mod crypto;
pub mod routes;

mod components;
mod pages;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The whole application.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <components::header::Header />
            <main id="main">
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::landing::Landing />
                </Routes>
            </main>
            <components::footer::Footer />
        </Router>
    }
}
