//! Choosing files: a drop zone with a file input (several files of any size), and the list of
//! what was chosen, names shown as text, each removable. The files stay in the browser.

use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::browser::format_bytes;

/// The files picked in the file input `event` came from, which is then cleared (so picking the
/// same files again fires another change).
pub fn take_picked(event: &leptos::ev::Event) -> Vec<web_sys::File> {
    let input: Option<web_sys::HtmlInputElement> =
        event.target().and_then(|target| target.dyn_into().ok());
    let Some(input) = input else {
        return Vec::new();
    };
    // Taken before the input is cleared: clearing empties the same (live) list.
    let picked = input
        .files()
        .map(|list| {
            (0..list.length())
                .filter_map(|index| list.get(index))
                .collect()
        })
        .unwrap_or_default();
    input.set_value("");
    picked
}

#[component]
pub fn FilePicker(
    files: RwSignal<Vec<web_sys::File>, LocalStorage>,
    /// The input's `name` (tests and labels find it by this).
    #[prop(default = "files")]
    name: &'static str,
) -> impl IntoView {
    let add_files = move |list: Option<web_sys::FileList>| {
        let Some(list) = list else { return };
        files.update(|files| {
            for index in 0..list.length() {
                if let Some(file) = list.get(index) {
                    files.push(file);
                }
            }
        });
    };
    let on_pick = move |event: leptos::ev::Event| {
        let input: Option<web_sys::HtmlInputElement> =
            event.target().and_then(|target| target.dyn_into().ok());
        if let Some(input) = input {
            add_files(input.files());
            input.set_value("");
        }
    };
    let on_drop = move |event: leptos::ev::DragEvent| {
        event.prevent_default();
        add_files(event.data_transfer().and_then(|data| data.files()));
    };
    view! {
        <div class="dropzone" data-testid="dropzone"
            on:dragover=move |event: leptos::ev::DragEvent| event.prevent_default()
            on:drop=on_drop>
            <p>"Drop files here, or "</p>
            <label class="file-pick">"choose files"
                <input type="file" name=name multiple on:change=on_pick />
            </label>
        </div>
        <ul class="file-list" data-testid="chosen-files">
            {move || files.get().into_iter().enumerate().map(|(index, file)| view! {
                <li>
                    <span class="file-name">{file.name()}</span>
                    " · " {format_bytes(file.size() as u64)}
                    <button type="button" class="link-button" aria-label="Remove"
                        on:click=move |_| files.update(|files| { if index < files.len() { files.remove(index); } })>
                        "remove"
                    </button>
                </li>
            }).collect_view()}
        </ul>
    }
}
