//! The signed-in user's account page (`/account`): their name, a password change (which ends
//! their other sessions), their live sessions, any of which they can end, and their personal API
//! tokens (made with a scope and an optional expiry, shown once, revoked here).

use crate::api::account::{ChangePassword, CreateToken, EndSession, RenameAccount, RevokeToken, get_account};
use crate::model::{Account, ApiTokenInfo, AppError, SessionInfo, TokenScope};
use leptos::either::Either;
use leptos::prelude::*;

fn outcome(result: Option<Result<(), AppError>>, done: &'static str) -> Option<impl IntoView> {
    result.map(|r| match r {
        Ok(()) => Either::Left(view! { <p class="ok" role="status">{done}</p> }),
        Err(e) => Either::Right(view! { <p class="error" role="alert">{e.to_string()}</p> }),
    })
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let rename = ServerAction::<RenameAccount>::new();
    let change = ServerAction::<ChangePassword>::new();
    let end = ServerAction::<EndSession>::new();
    let tokens =
        TokenActions { create: ServerAction::<CreateToken>::new(), revoke: ServerAction::<RevokeToken>::new() };
    let account = Resource::new(
        move || {
            (
                rename.version().get(),
                change.version().get(),
                end.version().get(),
                tokens.create.version().get(),
                tokens.revoke.version().get(),
            )
        },
        |_| get_account(),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="account" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Account"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading your account…"</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(a) => Either::Left(view! { <AccountView account=a rename change end tokens /> }),
                        Err(e) => Either::Right(view! { <p class="error" role="alert">{format!("Account unavailable: {e}")}</p> }),
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
    tokens: TokenActions,
) -> impl IntoView {
    let Account { user, sessions, tokens: live_tokens } = account;
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
        <TokensPanel live=live_tokens actions=tokens />
    }
}

#[derive(Clone, Copy)]
struct TokenActions {
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
}

/// Personal API tokens: a form to make one (shown once) and the live ones with Revoke.
#[component]
fn TokensPanel(live: Vec<ApiTokenInfo>, actions: TokenActions) -> impl IntoView {
    let TokenActions { create, revoke } = actions;
    let day = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
        t.map_or_else(|| none.to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
    };
    let made = move || {
        create.value().get().map(|r| match r {
            Ok(t) => Either::Left(view! {
                <div class="new-key" role="status">
                    <p><strong>{format!("New token “{}” ({}) — copy it now, it will not be shown again:", t.info.name, t.info.scope)}</strong></p>
                    <crate::ui::pages::settings::CopyField id="new-token" value=t.token label="New token" />
                </div>
            }
            ),
            Err(e) => Either::Right(view! { <p class="error" role="alert">{e.to_string()}</p> }),
        })
    };
    view! {
        <section class="panel" id="tokens">
            <h2>"API tokens"</h2>
            <p>"Personal tokens for the REST API and tools (" <code>"Authorization: Bearer …"</code> "). They act as you, within their scope: "
               <code>"read"</code> " reads, " <code>"write"</code> " also triages, " <code>"admin"</code> " also manages projects and users."</p>
            <ActionForm action=create attr:class="inline-form">
                <label for="token-name">"Token name"</label>
                <input id="token-name" name="name" maxlength="100" placeholder="e.g. deploy script" />
                <label for="token-scope">"Scope"</label>
                <select id="token-scope" name="scope">
                    {TokenScope::ALL.iter().map(|s| view! { <option value=s.as_str() selected=*s == TokenScope::Read>{s.as_str()}</option> }).collect_view()}
                </select>
                <label for="token-expires">"Expires"</label>
                <input id="token-expires" name="expires" type="date" />
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create token"</button>
            </ActionForm>
            {made}
            <table class="keys tokens">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Token"</th><th scope="col">"Scope"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th><th></th></tr></thead>
                <tbody>
                    {live.into_iter().map(|t| {
                        let id = t.id;
                        view! {
                            <tr class="token-row" data-token-id=id.to_string()>
                                <td>{t.name.clone()}</td>
                                <td><code>{format!("{}…", t.prefix)}</code></td>
                                <td>{t.scope.as_str()}</td>
                                <td>{day(t.expires_at, "never")}</td>
                                <td>{day(t.last_used_at, "not yet")}</td>
                                <td>
                                    <button type="button" class="danger" aria-label=format!("Revoke token {}", t.name) on:click=move |_| { revoke.dispatch(RevokeToken { id }); }>
                                        "Revoke"
                                    </button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
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
                    Either::Left(view! { <span>"This session"</span> })
                } else {
                    Either::Right(view! {
                        <button type="button" class="danger" on:click=move |_| { end.dispatch(EndSession { id: id.clone() }); }>
                            "End session"
                        </button>
                    })
                }}
            </td>
        </tr>
    }
}
