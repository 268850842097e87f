//! A set of checkboxes, one per choice, each with its wire name and what it means: the scopes
//! of a new API key, the events of a new webhook endpoint. The chosen ones, in the order they
//! were ticked, are in `chosen`.

use leptos::prelude::*;

#[component]
pub fn Choices<T>(
    /// The heading of the set.
    legend: &'static str,
    /// The inputs' `name` (tests and forms find them by it).
    name: &'static str,
    /// Every choice, in the order shown.
    all: Vec<T>,
    /// A choice's name on the wire, shown in code type and used as the input's value.
    wire: fn(T) -> &'static str,
    /// What a choice means, in words.
    meaning: fn(T) -> &'static str,
    chosen: RwSignal<Vec<T>>,
) -> impl IntoView
where
    T: Copy + PartialEq + Send + Sync + 'static,
{
    view! {
        <fieldset>
            <legend>{legend}</legend>
            {all.into_iter().map(|choice| {
                let checked = move || chosen.get().contains(&choice);
                let toggle = move |_| chosen.update(|chosen| {
                    match chosen.iter().position(|known| *known == choice) {
                        Some(at) => {
                            chosen.remove(at);
                        }
                        None => chosen.push(choice),
                    }
                });
                view! {
                    <label class="choice">
                        <input type="checkbox" name=name value=wire(choice) prop:checked=checked on:change=toggle />
                        <code>{wire(choice)}</code> ": " {meaning(choice)}
                    </label>
                }
            }).collect_view()}
        </fieldset>
    }
}
