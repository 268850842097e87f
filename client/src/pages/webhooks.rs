//! The organisation's webhooks, for owners and admins: register an HTTPS endpoint for some
//! events (its signing secret is shown once, here), see each endpoint's last attempt and its
//! deliveries, replay a delivery, remove an endpoint. A member who opens this page gets the
//! relay's refusal in words.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ids::Id;
use shared::wire::{self, DeliveryState, WebhookDeliveryView, WebhookEvent, WebhookView};

use crate::auth::use_auth;
use crate::components::choices::Choices;
use crate::components::shown_once::ShownOnce;

/// What each event means, in the words the form shows.
fn described(event: WebhookEvent) -> &'static str {
    match event {
        WebhookEvent::LinkOpened => "a recipient opened a link",
        WebhookEvent::LinkDelivered => "a recipient's browser decrypted a send",
        WebhookEvent::LinkDestroyed => "a link was destroyed by wrong one-time passwords",
        WebhookEvent::DocumentArrived => "documents arrived (requests, portal, transfers)",
        WebhookEvent::RequestFulfilled => "a request was answered",
        WebhookEvent::RequestOverdue => "a request passed its due date",
        WebhookEvent::InvoicePaid => "an invoice was paid",
        WebhookEvent::InvoiceRefunded => "an invoice was refunded",
    }
}

fn status_of(status: Option<u16>, error: Option<&str>) -> String {
    match (status, error) {
        (Some(status), None) => format!("{status}"),
        (Some(status), Some(_)) => format!("{status} (failed)"),
        (None, Some(error)) => error.to_owned(),
        (None, None) => "not yet".to_owned(),
    }
}

#[component]
pub fn Webhooks() -> impl IntoView {
    let auth = use_auth();
    let endpoints = RwSignal::new(None::<Result<Vec<WebhookView>, String>>);
    let reload = RwSignal::new(0_u32);
    let url = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<WebhookEvent>::new());
    let secret = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let shown = RwSignal::new(None::<(Id, Vec<WebhookDeliveryView>)>);

    Effect::new(move |_| {
        reload.track();
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                endpoints.set(Some(api.webhooks().await.map_err(|e| e.to_string())));
            });
        }
    });

    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let request = wire::CreateWebhookRequest {
            url: url.get_untracked(),
            events: chosen.get_untracked(),
        };
        error.set(None);
        secret.set(None);
        spawn_local(async move {
            match api.create_webhook(&request).await {
                Ok(made) => {
                    secret.set(Some(made.secret.dangerously_expose().to_owned()));
                    url.set(String::new());
                    chosen.set(Vec::new());
                    reload.update(|n| *n += 1);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let show = move |id: Id| {
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match api.webhook_deliveries(id).await {
                Ok(list) => shown.set(Some((id, list))),
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let remove = move |id: Id| {
        move |_| {
            let Some(api) = auth.api.get_untracked() else {
                return;
            };
            spawn_local(async move {
                match api.delete_webhook(id).await {
                    Ok(()) => {
                        shown.set(None);
                        reload.update(|n| *n += 1);
                    }
                    Err(failure) => error.set(Some(failure.to_string())),
                }
            });
        }
    };

    let replay = move |endpoint: Id, delivery: Id| {
        move |_| {
            let Some(api) = auth.api.get_untracked() else {
                return;
            };
            spawn_local(async move {
                match api.replay_webhook(endpoint, delivery).await {
                    Ok(_) => show(endpoint),
                    Err(failure) => error.set(Some(failure.to_string())),
                }
            });
        }
    };

    view! {
        <section class="webhooks">
            <h1>"Webhooks"</h1>
            <p class="muted">"Sealpost calls your HTTPS endpoint when something happens to this organisation's sends, documents, requests or invoices. Each call carries the event's type, time and the id of what it is about (never a name, an address or content) and is signed like Stripe's webhooks: check "<code>"Sealpost-Signature"</code>" with the endpoint's secret. Failed calls are retried for about a day."</p>
            {move || match endpoints.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(refusal)) => view! { <p class="status-error" role="alert" data-testid="webhooks-error">{refusal}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ShownOnce says="The endpoint's signing secret, shown only now:" testid="webhook-secret" secret=secret />
                    <table data-testid="webhooks-table">
                        <thead><tr><th>"Endpoint"</th><th>"Events"</th><th>"Last call"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|endpoint| {
                                let id = endpoint.id;
                                let events = endpoint.events.iter().map(|event| event.as_str()).collect::<Vec<_>>().join(" ");
                                let last = status_of(endpoint.last_status, endpoint.last_error.as_deref());
                                let when = endpoint.last_attempt_at.map(crate::export::utc).unwrap_or_default();
                                let remove_label = format!("Remove {}", endpoint.url);
                                let show_label = format!("Deliveries of {}", endpoint.url);
                                view! {
                                    <tr>
                                        <td><code>{endpoint.url.clone()}</code></td>
                                        <td>{events}</td>
                                        <td>{last} " " <span class="muted">{when}</span></td>
                                        <td>
                                            <button type="button" class="secondary" aria-label=show_label on:click=move |_| show(id)>"Deliveries"</button>
                                            " "
                                            <button type="button" class="secondary" aria-label=remove_label on:click=remove(id)>"Remove"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {move || shown.get().map(|(endpoint, deliveries)| view! {
                        <h2>"Deliveries"</h2>
                        <table data-testid="deliveries-table">
                            <thead><tr><th>"Event"</th><th>"Time (UTC)"</th><th>"State"</th><th>"Attempts"</th><th>"Last answer"</th><th></th></tr></thead>
                            <tbody>
                                {deliveries.into_iter().map(|delivery| {
                                    let state = match delivery.state {
                                        DeliveryState::Pending => "pending",
                                        DeliveryState::Delivered => "delivered",
                                        DeliveryState::Failed => "failed",
                                    };
                                    let label = format!("Replay {} of {}", delivery.event.as_str(), crate::export::utc(delivery.created_at));
                                    view! {
                                        <tr>
                                            <td>{delivery.event.as_str()}</td>
                                            <td>{crate::export::utc(delivery.created_at)}</td>
                                            <td>{state}</td>
                                            <td>{delivery.attempts}</td>
                                            <td>{status_of(delivery.last_status, delivery.last_error.as_deref())}</td>
                                            <td><button type="button" class="secondary" aria-label=label on:click=replay(endpoint, delivery.id)>"Replay"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    })}
                    <h2>"Add an endpoint"</h2>
                    <form on:submit=create>
                        <label>"URL" <input type="url" name="webhook-url" required bind:value=url placeholder="https://practice.example/sealpost" /></label>
                        <Choices legend="Call it when" name="webhook-event" all=WebhookEvent::ALL.to_vec() wire=WebhookEvent::as_str meaning=described chosen=chosen />
                        <button type="submit">"Add the endpoint"</button>
                    </form>
                }.into_any(),
            }}
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
