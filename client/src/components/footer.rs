//! The footer: which relay the app talks to and whether it is healthy.

use leptos::prelude::*;

use super::relay_status::RelayStatus;

#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="footer">
            <RelayStatus />
        </footer>
    }
}
