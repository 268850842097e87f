//! The mark on a document its viewer may see but not read (PRODUCT.md "Limited viewing"): the
//! words, visible and read out, with the padlock as decoration only (hidden from screen
//! readers), since a font without the emoji shows an empty box. It decides nothing: the relay
//! says what is readable.

use leptos::prelude::*;

#[component]
pub fn LimitedViewing() -> impl IntoView {
    view! {
        <span class="limited" data-testid="limited-viewing" title="Only its readers can open it; you see its details">
            <span aria-hidden="true">"🔒 "</span>"Limited viewing"
        </span>
    }
}
