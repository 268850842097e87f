//! The organisation's API keys, for owners and admins: make one with a name, scopes and an
//! optional expiry (its secret is shown once, here, to copy into the script or system that
//! uses it), see every key with its prefix, scopes and last use, and revoke one. A member who
//! opens this page gets the relay's refusal in words.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::wire::{self, ApiKeyView, ApiScope};

use crate::auth::use_auth;
use crate::components::choices::Choices;
use crate::components::shown_once::ShownOnce;

/// What each scope lets a key do, in the words the form shows.
fn described(scope: ApiScope) -> &'static str {
    match scope {
        ApiScope::SendsWrite => "make Secure Sends (upload ciphertext, finalize, revoke)",
        ApiScope::SendsRead => "list the sends the key made",
        ApiScope::DocumentsWrite => "upload chart transfers and withdraw them",
        ApiScope::DocumentsRead => "see documents' metadata (never their content)",
        ApiScope::RequestsWrite => "ask for documents and close the requests",
        ApiScope::RequestsRead => "follow the organisation's requests",
        ApiScope::AuditRead => "read and export the audit log",
        ApiScope::LedgerRead => "read the payment ledger (not the bank details)",
    }
}

#[component]
pub fn ApiKeys() -> impl IntoView {
    let auth = use_auth();
    let keys = RwSignal::new(None::<Result<Vec<ApiKeyView>, String>>);
    let reload = RwSignal::new(0_u32);
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<ApiScope>::new());
    let days = RwSignal::new("90".to_owned());
    let secret = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);

    Effect::new(move |_| {
        reload.track();
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                keys.set(Some(api.api_keys().await.map_err(|e| e.to_string())));
            });
        }
    });

    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let now = (js_sys::Date::now() / 1000.0) as i64;
        let expires_at = days
            .get_untracked()
            .parse::<i64>()
            .ok()
            .map(|days| now + days * 86_400);
        let request = wire::CreateApiKeyRequest {
            name: name.get_untracked(),
            scopes: chosen.get_untracked(),
            expires_at,
        };
        error.set(None);
        secret.set(None);
        spawn_local(async move {
            match api.create_api_key(&request).await {
                Ok(made) => {
                    secret.set(Some(made.secret.dangerously_expose().to_owned()));
                    name.set(String::new());
                    chosen.set(Vec::new());
                    reload.update(|n| *n += 1);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let revoke = move |key: ApiKeyView| {
        move |_| {
            let Some(api) = auth.api.get_untracked() else {
                return;
            };
            spawn_local(async move {
                match api.revoke_api_key(key.id).await {
                    Ok(_) => reload.update(|n| *n += 1),
                    Err(failure) => error.set(Some(failure.to_string())),
                }
            });
        }
    };

    view! {
        <section class="api-keys">
            <h1>"API keys"</h1>
            <p class="muted">"A key lets a script or another system (practice management, claims, records) use this organisation's API with "<code>"Authorization: Bearer sp_…"</code>" (see the "<a href="/api-reference">"API reference"</a>"). A key holds no private key: it can send, ask and read metadata, never decrypt a document. It can never manage people, policy, payouts or keys."</p>
            {move || match keys.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(refusal)) => view! { <p class="status-error" role="alert" data-testid="api-keys-error">{refusal}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ShownOnce says="Copy this key now; it is shown only once, and the relay keeps only its hash:" testid="api-key-secret" secret=secret />
                    <table data-testid="api-keys-table">
                        <thead><tr><th>"Name"</th><th>"Key"</th><th>"Scopes"</th><th>"Created (UTC)"</th><th>"Last used"</th><th>"Expires"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|key| {
                                let live = key.revoked_at.is_none();
                                let scopes = key.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(" ");
                                let state = match key.revoked_at {
                                    Some(at) => format!("revoked {}", crate::export::utc(at)),
                                    None => "active".to_owned(),
                                };
                                let label = format!("Revoke {}", key.name);
                                view! {
                                    <tr>
                                        <td>{key.name.clone()}</td>
                                        <td><code>{format!("{}…", key.prefix)}</code></td>
                                        <td>{scopes}</td>
                                        <td>{crate::export::utc(key.created_at)}</td>
                                        <td>{key.last_used_at.map(crate::export::utc).unwrap_or_else(|| "never".to_owned())}</td>
                                        <td>{key.expires_at.map(crate::export::utc).unwrap_or_else(|| "never".to_owned())}</td>
                                        <td>{state}</td>
                                        <td>
                                            <Show when=move || live>
                                                <button type="button" class="secondary" aria-label=label.clone() on:click=revoke(key.clone())>"Revoke"</button>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <h2>"Make a key"</h2>
                    <form on:submit=create>
                        <label>"Name" <input type="text" name="api-key-name" required maxlength="80" bind:value=name placeholder="Practice system" /></label>
                        <Choices legend="It may" name="api-key-scope" all=ApiScope::ALL.to_vec() wire=ApiScope::as_str meaning=described chosen=chosen />
                        <label>"Expires"
                            <select name="api-key-expiry" bind:value=days>
                                <option value="30">"in 30 days"</option>
                                <option value="90">"in 90 days"</option>
                                <option value="365">"in a year"</option>
                                <option value="never">"never (until revoked)"</option>
                            </select>
                        </label>
                        <button type="submit">"Make the key"</button>
                    </form>
                }.into_any(),
            }}
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
