//! The payee's "mark paid" control for one invoice: a reference (a transfer's reference, a
//! cheque number) and a button. The relay records it in the ledger and the audit log and
//! releases what the invoice guards.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ids::Id;

use crate::auth::use_auth;

#[component]
pub fn MarkPaid(
    invoice: Id,
    /// Called once the relay accepted it.
    on_done: Callback<()>,
) -> impl IntoView {
    let auth = use_auth();
    let reference = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = api.mark_paid(invoice, &reference.get_untracked()).await;
            busy.set(false);
            match outcome {
                Ok(_) => on_done.run(()),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    view! {
        <form class="inline-form mark-paid" data-testid="mark-paid" on:submit=submit>
            <label>"Paid by other means: reference"
                <input type="text" name="reference" required maxlength="120" placeholder="transfer ref., cheque no." bind:value=reference />
            </label>
            <button type="submit" class="secondary" disabled=move || busy.get()>"Mark paid"</button>
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </form>
    }
}
