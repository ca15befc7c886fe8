//! The signed-in user's account page (`/account`): their name, a password change (which ends
//! their other sessions), and their live sessions, any of which they can end.

use crate::api::account::{ChangePassword, EndSession, RenameAccount, get_account};
use crate::model::{Account, AppError, SessionInfo};
use leptos::prelude::*;

fn outcome(result: Option<Result<(), AppError>>, done: &'static str) -> Option<AnyView> {
    result.map(|r| match r {
        Ok(()) => view! { <p class="ok" role="status">{done}</p> }.into_any(),
        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
    })
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let rename = ServerAction::<RenameAccount>::new();
    let change = ServerAction::<ChangePassword>::new();
    let end = ServerAction::<EndSession>::new();
    let account =
        Resource::new(move || (rename.version().get(), change.version().get(), end.version().get()), |_| get_account());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="account" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Account"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading your account…"</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(a) => view! { <AccountView account=a rename change end /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{format!("Account unavailable: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AccountView(
    account: Account,
    rename: ServerAction<RenameAccount>,
    change: ServerAction<ChangePassword>,
    end: ServerAction<EndSession>,
) -> impl IntoView {
    let Account { user, sessions } = account;
    view! {
        <section class="panel">
            <h2>"Profile"</h2>
            <p>"Signed in as " <strong>{user.email.clone()}</strong> {format!(" ({})", user.role.as_str())}</p>
            <ActionForm action=rename attr:class="inline-form">
                <label for="account-name">"Name"</label>
                <input id="account-name" name="name" value=user.name.clone() maxlength="100" />
                <button type="submit" disabled=move || rename.pending().get()>"Save name"</button>
            </ActionForm>
            {move || outcome(rename.value().get(), "Name saved.")}
        </section>
        <section class="panel">
            <h2>"Password"</h2>
            <p>"Changing it signs you out everywhere else."</p>
            <ActionForm action=change attr:class="auth-form">
                <label for="current-password">"Current password"</label>
                <input id="current-password" name="current" type="password" autocomplete="current-password" required />
                <label for="new-password">"New password"</label>
                <input id="new-password" name="new" type="password" autocomplete="new-password" minlength="10" required />
                <button type="submit" class="primary" disabled=move || change.pending().get()>"Change password"</button>
            </ActionForm>
            {move || outcome(change.value().get(), "Password changed; your other sessions have ended.")}
        </section>
        <section class="panel">
            <h2>"Sessions"</h2>
            <table class="sessions">
                <thead><tr><th scope="col">"Signed in"</th><th scope="col">"Last used"</th><th scope="col">"Address"</th><th scope="col">"Browser"</th><th></th></tr></thead>
                <tbody>
                    {sessions.into_iter().map(|s| view! { <SessionRow session=s end /> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn SessionRow(session: SessionInfo, end: ServerAction<EndSession>) -> impl IntoView {
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let id = session.id.clone();
    view! {
        <tr class="session-row" data-current=session.current.to_string()>
            <td>{when(session.created_at)}</td>
            <td>{when(session.last_seen_at)}</td>
            <td>{session.address.unwrap_or_default()}</td>
            <td class="user-agent">{session.user_agent.unwrap_or_default()}</td>
            <td>
                {if session.current {
                    view! { <span>"This session"</span> }.into_any()
                } else {
                    view! {
                        <button type="button" class="danger" on:click=move |_| { end.dispatch(EndSession { id: id.clone() }); }>
                            "End session"
                        </button>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}
