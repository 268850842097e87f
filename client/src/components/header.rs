//! The top bar: the product name linking home, and log-in / sign-up or the account link.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::auth::use_auth;
use crate::routes::Page;

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    view! {
        <header class="topbar">
            <A href=Page::Landing.path() attr:class="brand">
                <img src="/icons/icon.svg" alt="" width="28" height="28" />
                <span>"Sealpost"</span>
            </A>
            <nav class="nav">
                {move || match auth.api.get() {
                    Some(api) => view! {
                        <A href=Page::Dashboard.path()>{api.session().user.email.clone()}</A>
                    }.into_any(),
                    None => view! {
                        <A href=Page::Login.path()>"Log in"</A>
                        <A href=Page::Signup.path()>"Sign up"</A>
                    }.into_any(),
                }}
            </nav>
        </header>
    }
}
