//! The top bar: the product name linking home.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::routes::Page;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="topbar">
            <A href=Page::Landing.path() attr:class="brand">
                <img src="/icons/icon.svg" alt="" width="28" height="28" />
                <span>"Sealpost"</span>
            </A>
        </header>
    }
}
