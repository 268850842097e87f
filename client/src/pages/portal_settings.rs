//! The owner's portal settings, `/app/portal`: open or close the public intake page and choose
//! the intake users (members who read portal uploads and chart transfers, with the owner). It
//! shows the portal link to share, with the digest of the current readers' keys in its fragment
//! so uploaders' browsers refuse any other keys.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::crypto::{Fingerprint, UserPublicKey};
use shared::wire::{MemberView, PortalSettings, Role};

use crate::api;
use crate::auth::use_auth;

#[component]
pub fn PortalSettingsPage() -> impl IntoView {
    let auth = use_auth();
    let members = RwSignal::new(Vec::<MemberView>::new());
    let enabled = RwSignal::new(false);
    let intake = RwSignal::new(Vec::<shared::ids::Id>::new());
    let link = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let loaded = RwSignal::new(false);

    let refresh_link = move || {
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let handle = api.session().organisation.handle.clone();
        spawn_local(async move {
            match api::portal(&handle).await {
                Ok(view) => {
                    let fingerprints: Vec<Fingerprint> = view
                        .readers
                        .iter()
                        .filter_map(|holder| UserPublicKey::from_spki_der(&holder.public_key).ok())
                        .map(|key| key.fingerprint())
                        .collect();
                    let origin = web_sys::window()
                        .and_then(|window| window.location().origin().ok())
                        .unwrap_or_default();
                    link.set(Some(format!(
                        "{origin}/p/{handle}#k={}",
                        shared::encoding::encode(&Fingerprint::set_digest(&fingerprints))
                    )));
                }
                Err(_) => link.set(None),
            }
        });
    };

    Effect::new(move |_| {
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                match (api.portal_settings().await, api.members().await) {
                    (Ok(settings), Ok(list)) => {
                        enabled.set(settings.enabled);
                        intake.set(settings.intake);
                        members.set(list);
                        loaded.set(true);
                        refresh_link();
                    }
                    (Err(failure), _) | (_, Err(failure)) => error.set(Some(failure.to_string())),
                }
            });
        }
    });

    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let settings = PortalSettings {
            enabled: enabled.get_untracked(),
            intake: intake.get_untracked(),
        };
        saved.set(false);
        error.set(None);
        spawn_local(async move {
            match api.set_portal_settings(&settings).await {
                Ok(_) => {
                    saved.set(true);
                    refresh_link();
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    view! {
        <section>
            <h1>"Portal and intake"</h1>
            <p class="muted">"Intake users read what arrives through your portal and by chart transfer, together with you (the owner)."</p>
            <Show when=move || loaded.get() fallback=|| view! { <p class="muted">"Loading…"</p> }>
            <form class="composer" on:submit=save>
                <label class="checkbox"><input type="checkbox" name="portal-enabled" prop:checked=move || enabled.get() on:change=move |event| enabled.set(event_target_checked(&event)) />"Open the public portal"</label>
                <fieldset data-testid="intake-users">
                    <legend>"Intake users"</legend>
                    {move || members.get().into_iter().filter(|member| member.role != Role::Owner).map(|member| {
                        let id = member.id;
                        view! {
                            <label class="checkbox">
                                <input type="checkbox" name="intake" value=member.email.clone()
                                    prop:checked=move || intake.with(|list| list.contains(&id))
                                    on:change=move |event| {
                                        let on = event_target_checked(&event);
                                        intake.update(|list| {
                                            list.retain(|user| *user != id);
                                            if on { list.push(id); }
                                        });
                                    } />
                                {format!("{} ({})", member.name, member.email)}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <button type="submit">"Save"</button>
            </form>
            </Show>
            <Show when=move || saved.get()>
                <p class="status-ok" role="status" data-testid="portal-saved">"Saved."</p>
            </Show>
            {move || link.get().filter(|_| enabled.get()).map(|text| {
                let copy_text = text.clone();
                let copy = move |_| {
                    if let Some(window) = web_sys::window() {
                        let _ = window.navigator().clipboard().write_text(&copy_text);
                    }
                };
                view! {
                    <label>"Your portal link (share this one, never the address without its #k= part: that part lets every uploader's browser check your keys)"
                        <input type="text" readonly name="portal-link" data-testid="portal-link" value=text.clone() />
                    </label>
                    <p class="actions"><button type="button" class="secondary" data-testid="portal-link-copy" on:click=copy>"Copy the link"</button></p>
                    <img class="qr" src=crate::components::qr::data_uri(&text) alt="QR code of the portal link" width="200" height="200" />
                }
            })}
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
