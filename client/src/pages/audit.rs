//! The organisation's audit log for owners and admins: newest first, filtered by text, and
//! exported as CSV or JSON, built in the browser from what the relay returned.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::wire::{AuditCheckpoint, AuditEntryView};

use crate::auth::use_auth;

#[component]
pub fn Audit() -> impl IntoView {
    let auth = use_auth();
    let entries = RwSignal::new(None::<Result<Vec<AuditEntryView>, String>>);
    let filter = RwSignal::new(String::new());
    let checkpoint = RwSignal::new(None::<Result<AuditCheckpoint, String>>);
    Effect::new(move |_| {
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                entries.set(Some(api.audit().await.map_err(|error| error.to_string())));
                checkpoint.set(Some(
                    api.audit_checkpoint()
                        .await
                        .map_err(|error| error.to_string()),
                ));
            });
        }
    });
    let shown = move || {
        let needle = filter.get().to_lowercase();
        entries.get().map(|result| {
            result.map(|all| {
                all.into_iter()
                    .filter(|entry| needle.is_empty() || haystack(entry).contains(&needle))
                    .collect::<Vec<_>>()
            })
        })
    };
    view! {
        <section class="audit">
            <h1>"Audit log"</h1>
            <section class="checkpoint" data-testid="audit-checkpoint">
                <h2>"Signed checkpoint"</h2>
                <p class="muted">"The log is a hash chain, so an edit shows; but its end could be cut off, or the whole chain rewritten. Download a checkpoint now and then and keep it outside Sealpost: the relay's operator can later show that the log still holds that entry with that hash (admin audit verify --since)."</p>
                {move || match checkpoint.get() {
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(Err(error)) => view! { <p class="status-error" role="alert">{error}</p> }.into_any(),
                    Some(Ok(signed)) => {
                        let json = serde_json::to_string_pretty(&signed).unwrap_or_default();
                        let href = crate::export::download_href(&json, "application/json");
                        let name = format!("sealpost-audit-checkpoint-{}.json", signed.seq);
                        view! {
                            <p>"Relay's audit key (Ed25519): " <code data-testid="audit-key">{grouped(&signed.relay_key)}</code></p>
                            <p>"The log ends at entry " {signed.seq} ". "
                                <a href=href download=name data-testid="checkpoint-download">"Download the signed checkpoint"</a>
                            </p>
                        }.into_any()
                    }
                }}
            </section>
            <label>"Filter" <input type="search" name="filter" bind:value=filter placeholder="action, address, outcome…" /></label>
            {move || match shown() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="status-error" role="alert" data-testid="audit-error">{error}</p> }.into_any(),
                Some(Ok(rows)) => {
                    let csv = crate::export::download_href(&to_csv(&rows), "text/csv");
                    let json = crate::export::download_href(&serde_json_string(&rows), "application/json");
                    view! {
                        <p class="actions">
                            <a href=csv download="audit.csv">"Export CSV"</a>
                            " "
                            <a href=json download="audit.json">"Export JSON"</a>
                        </p>
                        <table data-testid="audit-table">
                            <thead><tr><th>"#"</th><th>"Time (UTC)"</th><th>"Actor"</th><th>"IP"</th><th>"Action"</th><th>"Target"</th><th>"Outcome"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|entry| view! {
                                    <tr>
                                        <td>{entry.seq}</td>
                                        <td>{crate::export::utc(entry.time)}</td>
                                        <td>{match &entry.actor_name {
                                            Some(name) => format!("{} ({name})", entry.actor_kind),
                                            None => entry.actor_kind.clone(),
                                        }}</td>
                                        <td>{entry.ip.clone().unwrap_or_default()}</td>
                                        <td>{entry.action.clone()}</td>
                                        <td>{entry.target.clone().unwrap_or_default()}</td>
                                        <td>{entry.outcome.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// Hex in groups of eight, for reading aloud or comparing by eye.
fn grouped(hex: &str) -> String {
    hex.as_bytes()
        .chunks(8)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn haystack(entry: &AuditEntryView) -> String {
    format!(
        "{} {} {} {} {} {}",
        entry.action,
        entry.actor_kind,
        entry.actor_name.as_deref().unwrap_or_default(),
        entry.target.as_deref().unwrap_or_default(),
        entry.outcome,
        entry.ip.as_deref().unwrap_or_default()
    )
    .to_lowercase()
}

fn to_csv(rows: &[AuditEntryView]) -> String {
    let mut out = String::from("seq,time_utc,actor_kind,actor_id,ip,action,target,outcome,hash\n");
    for entry in rows {
        let fields = [
            entry.seq.to_string(),
            crate::export::utc(entry.time),
            entry.actor_kind.clone(),
            entry.actor_id.map(|id| id.to_string()).unwrap_or_default(),
            entry.ip.clone().unwrap_or_default(),
            entry.action.clone(),
            entry.target.clone().unwrap_or_default(),
            entry.outcome.clone(),
            entry.hash.clone(),
        ];
        let line: Vec<String> = fields
            .iter()
            .map(|field| crate::export::csv_field(field))
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn serde_json_string(rows: &[AuditEntryView]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".to_owned())
}
