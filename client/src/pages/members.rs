//! Members and invitations, for owners and admins: invite by address (the link is shown once,
//! to pass on), change a member between admin and member, remove a member. A member who opens
//! this page gets the relay's refusal in words.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::wire::{self, MemberView, Role};

use crate::auth::use_auth;

#[component]
pub fn Members() -> impl IntoView {
    let auth = use_auth();
    let members = RwSignal::new(None::<Result<Vec<MemberView>, String>>);
    let invites = RwSignal::new(Vec::<wire::InviteView>::new());
    let reload = RwSignal::new(0_u32);
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_owned());
    let link = RwSignal::new(None::<String>);
    let emailed = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);

    Effect::new(move |_| {
        reload.track();
        if let Some(api) = auth.api.get() {
            spawn_local(async move {
                members.set(Some(api.members().await.map_err(|e| e.to_string())));
                invites.set(api.invites().await.unwrap_or_default());
            });
        }
    });

    let send_invite = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(api) = auth.api.get_untracked() else {
            return;
        };
        let request = wire::CreateInviteRequest {
            email: email.get_untracked(),
            role: if role.get_untracked() == "admin" {
                Role::Admin
            } else {
                Role::Member
            },
        };
        error.set(None);
        spawn_local(async move {
            match api.invite(&request).await {
                Ok(invite) => {
                    let origin = web_sys::window()
                        .and_then(|window| window.location().origin().ok())
                        .unwrap_or_default();
                    emailed.set(invite.emailed.then(|| invite.email.clone()));
                    link.set(
                        invite
                            .token
                            .map(|token| format!("{origin}/join#{}", token.dangerously_expose())),
                    );
                    email.set(String::new());
                    reload.update(|n| *n += 1);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };

    let act = move |member: MemberView, action: &'static str| {
        move |_| {
            let Some(api) = auth.api.get_untracked() else {
                return;
            };
            let member = member.clone();
            spawn_local(async move {
                let outcome = match action {
                    "remove" => api.remove_member(member.id).await,
                    _ => {
                        let target = if member.role == Role::Admin {
                            Role::Member
                        } else {
                            Role::Admin
                        };
                        api.change_role(member.id, target).await.map(|_| ())
                    }
                };
                match outcome {
                    Ok(()) => reload.update(|n| *n += 1),
                    Err(failure) => error.set(Some(failure.to_string())),
                }
            });
        }
    };

    view! {
        <section class="members">
            <h1>"Members"</h1>
            {move || match members.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(refusal)) => view! { <p class="status-error" role="alert" data-testid="members-error">{refusal}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <table data-testid="members-table">
                        <thead><tr><th>"Name"</th><th>"E-mail"</th><th>"Role"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|member| {
                                let is_owner = member.role == Role::Owner;
                                let flip = if member.role == Role::Admin { "Make member" } else { "Make admin" };
                                view! {
                                    <tr>
                                        <td>{member.name.clone()}</td>
                                        <td>{member.email.clone()}</td>
                                        <td>{format!("{:?}", member.role).to_lowercase()}</td>
                                        <td>
                                            <Show when=move || !is_owner>
                                                <button type="button" class="secondary" on:click=act(member.clone(), "role")>{flip}</button>
                                                " "
                                                <button type="button" class="secondary" on:click=act(member.clone(), "remove")>"Remove"</button>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    <h2>"Invite someone"</h2>
                    <form on:submit=send_invite class="inline-form">
                        <label>"E-mail" <input type="email" name="invite-email" required bind:value=email /></label>
                        <label>"Role"
                            <select name="invite-role" bind:value=role>
                                <option value="member">"member"</option>
                                <option value="admin">"admin"</option>
                            </select>
                        </label>
                        <button type="submit">"Create invite link"</button>
                    </form>
                    <Show when=move || link.get().is_some() || emailed.get().is_some()>
                        <p data-testid="invite-note">{move || match (emailed.get(), link.get()) {
                            (Some(address), None) => format!("The invitation was e-mailed to {address}. Its link works once, for a week; it goes only to that address, so nobody else can claim the account."),
                            (_, _) => "Send this link to the person you invited (it works once, for a week, and is shown only now):".to_owned(),
                        }}</p>
                        <Show when=move || link.get().is_some()>
                            <p><code data-testid="invite-link">{move || link.get().unwrap_or_default()}</code></p>
                        </Show>
                    </Show>
                    <h2>"Pending invitations"</h2>
                    <ul>
                        {move || invites.get().into_iter().map(|invite| view! {
                            <li>{invite.email} " · " {format!("{:?}", invite.role).to_lowercase()} " · until " {crate::export::utc(invite.expires_at)}</li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <Show when=move || error.get().is_some()>
                <p class="status-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
