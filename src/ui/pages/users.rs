//! The Users page (`/users`, instance admins): invite someone by link (shown to pass on), and
//! per user change the instance role, deactivate or reactivate, or make a password-reset link.

use crate::api::users::{UserInfo, invite_user, list_users, reset_link, set_user_active, set_user_role};
use crate::model::{AppError, InstanceRole, UserId};
use crate::ui::pages::settings::CopyField;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

#[derive(Clone, Copy)]
struct UserActions {
    invite: Action<(String, InstanceRole), Result<String, AppError>>,
    role: Action<(UserId, InstanceRole), Result<(), AppError>>,
    active: Action<(UserId, bool), Result<(), AppError>>,
    reset: Action<UserId, Result<String, AppError>>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let actions = UserActions {
        invite: Action::new(|(email, role): &(String, InstanceRole)| invite_user(email.clone(), *role)),
        role: Action::new(|(user, role): &(UserId, InstanceRole)| set_user_role(*user, *role)),
        active: Action::new(|(user, active): &(UserId, bool)| set_user_active(*user, *active)),
        reset: Action::new(|user: &UserId| reset_link(*user)),
    };
    let a = actions;
    let users = Resource::new(
        move || (a.invite.version().get(), a.role.version().get(), a.active.version().get()),
        |_| list_users(),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="users" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Users"</h1>
            <InviteForm actions />
            <Transition fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => EitherOf3::A(view! { <UserTable users=list actions /> }),
                        Err(AppError::Forbidden) => EitherOf3::B(view! { <p class="error" role="alert">"Only instance admins manage users."</p> }),
                        Err(e) => EitherOf3::C(view! { <p class="error" role="alert">{format!("Users unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A link just made, to copy and pass on, or why it could not be made.
fn link_outcome(
    result: Option<Result<String, AppError>>,
    id: &'static str,
    what: &'static str,
) -> Option<impl IntoView> {
    result.map(|r| match r {
        Ok(url) => Either::Left(view! {
            <div class="new-key" role="status">
                <p><strong>{format!("{what} — send it to them; it works once, for 7 days:")}</strong></p>
                <CopyField id=id value=url label=what />
            </div>
        }),
        Err(e) => Either::Right(view! { <p class="error" role="alert">{e.to_string()}</p> }),
    })
}

#[component]
fn InviteForm(actions: UserActions) -> impl IntoView {
    let invite = actions.invite;
    let email = RwSignal::new(String::new());
    let role = RwSignal::new(InstanceRole::Member);
    view! {
        <section class="panel">
            <h2>"Invite someone"</h2>
            <p class="muted">"Instance admins manage users and every project; members see the projects they are added to."</p>
            <form
                class="inline-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    invite.dispatch((email.get_untracked(), role.get_untracked()));
                    email.set(String::new());
                }
            >
                <label for="invite-email">"Email"</label>
                <input id="invite-email" type="email" required prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
                <label for="invite-role">"Role"</label>
                <select id="invite-role" on:change=move |ev| role.set(event_target_value(&ev).parse().unwrap_or(InstanceRole::Member))>
                    <option value="member" selected>"member"</option>
                    <option value="admin">"admin"</option>
                </select>
                <button type="submit" class="primary" disabled=move || invite.pending().get()>"Invite"</button>
            </form>
            {move || link_outcome(invite.value().get(), "invite-url", "Invitation link")}
        </section>
    }
}

#[component]
fn UserTable(users: Vec<UserInfo>, actions: UserActions) -> impl IntoView {
    let UserActions { role, active, reset, .. } = actions;
    let failed = move || {
        let r = role.value().get().and_then(Result::err);
        let a = active.value().get().and_then(Result::err);
        r.or(a).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    view! {
        {failed}
        {move || link_outcome(reset.value().get(), "reset-url", "Password-reset link")}
        <table class="members users">
            <thead><tr><th scope="col">"Email"</th><th scope="col">"Name"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th></th></tr></thead>
            <tbody>
                {users.into_iter().map(|u| {
                    let id = u.id;
                    let status = if !u.active { "deactivated" } else if u.pending { "invited" } else { "active" };
                    view! {
                        <tr class="user-row" data-email=u.email.clone() class:inactive=!u.active>
                            <td>{u.email.clone()}</td>
                            <td>{u.name.clone()}</td>
                            <td>
                                <select aria-label=format!("Instance role of {}", u.email) on:change=move |ev| {
                                    let r = event_target_value(&ev).parse().unwrap_or(InstanceRole::Member);
                                    role.dispatch((id, r));
                                }>
                                    {InstanceRole::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == u.role>{r.as_str()}</option> }).collect_view()}
                                </select>
                            </td>
                            <td class="user-status">{status}</td>
                            <td class="actions">
                                {if u.active {
                                    Either::Left(view! { <button type="button" class="danger" on:click=move |_| { active.dispatch((id, false)); }>"Deactivate"</button> })
                                } else {
                                    Either::Right(view! { <button type="button" on:click=move |_| { active.dispatch((id, true)); }>"Reactivate"</button> })
                                }}
                                <button type="button" on:click=move |_| { reset.dispatch(id); }>"Reset link"</button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
