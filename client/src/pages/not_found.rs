//! Shown for any path the app does not know.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::routes::Page;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. "<A href=Page::Landing.path()>"Go to the start page"</A></p>
        </section>
    }
}
