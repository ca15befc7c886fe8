//! A project's alerts (`/alerts?project=<slug>`): every member chooses how they get its alert
//! emails; its admins also manage channels (with health, **Send test** and the delivery log with
//! **Redeliver**) and rules.

use crate::api::alerts::{
    create_channel, create_rule, delete_channel, delete_rule, get_alert_settings, list_deliveries, redeliver,
    rotate_channel_secret, set_email_mode, test_channel,
};
use crate::model::{
    AlertSettings, AppError, Channel, ChannelInput, ChannelKind, ChannelStatus, Delivery, EmailMode, Level, NewChannel,
    ProjectId, Rule, RuleInput, When, WhenName,
};
use crate::ui::pages::settings::{CopyField, confirm, failure};
use crate::ui::projects::project_param;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// What the page can change, each a server call.
#[derive(Clone, Copy)]
struct AlertActions {
    mode: Action<(ProjectId, EmailMode), Result<(), AppError>>,
    create_channel: Action<(ProjectId, ChannelInput), Result<NewChannel, AppError>>,
    rotate: Action<(ProjectId, i64), Result<NewChannel, AppError>>,
    delete_channel: Action<(ProjectId, i64), Result<(), AppError>>,
    create_rule: Action<(ProjectId, RuleInput), Result<Rule, AppError>>,
    delete_rule: Action<(ProjectId, i64), Result<(), AppError>>,
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let location = use_location();
    let slug = Memo::new(move |_| project_param(&location.search.get()));
    let actions = AlertActions {
        mode: Action::new(|(p, m): &(ProjectId, EmailMode)| set_email_mode(*p, *m)),
        create_channel: Action::new(|(p, i): &(ProjectId, ChannelInput)| create_channel(*p, i.clone())),
        rotate: Action::new(|(p, c): &(ProjectId, i64)| rotate_channel_secret(*p, *c)),
        delete_channel: Action::new(|(p, c): &(ProjectId, i64)| delete_channel(*p, *c)),
        create_rule: Action::new(|(p, i): &(ProjectId, RuleInput)| create_rule(*p, i.clone())),
        delete_rule: Action::new(|(p, r): &(ProjectId, i64)| delete_rule(*p, *r)),
    };
    let a = actions;
    let settings = Resource::new(
        move || {
            (
                slug.get(),
                a.mode.version().get(),
                a.create_channel.version().get(),
                a.delete_channel.version().get(),
                a.create_rule.version().get(),
                a.delete_rule.version().get(),
            )
        },
        |(slug, ..)| get_alert_settings(slug),
    );
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <section id="alerts" data-hydrated=move || hydrated.get().to_string()>
            <Transition fallback=|| view! { <p class="loading">"Loading alerts…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => EitherOf3::A(view! { <AlertsView settings=s actions=actions /> }),
                        Err(AppError::NotFound) => EitherOf3::B(view! { <h1>"Alerts"</h1><p class="empty" role="alert">"This project does not exist, or you are not one of its members."</p> }),
                        Err(e) => EitherOf3::C(view! { <h1>"Alerts"</h1><p class="error" role="alert">{format!("Alerts unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AlertsView(settings: AlertSettings, actions: AlertActions) -> impl IntoView {
    let project = settings.project_id;
    let mode = actions.mode;
    let modes = [
        (EmailMode::Every, "Every alert"),
        (EmailMode::Hourly, "An hourly digest"),
        (EmailMode::Daily, "A daily digest"),
        (EmailMode::None, "No email"),
    ];
    let current = settings.email_mode;
    let broken: Vec<Channel> =
        settings.channels.iter().filter(|c| c.status == ChannelStatus::Broken).cloned().collect();
    view! {
        <h1>"Alerts"</h1>
        {broken.into_iter().map(|c| view! {
            <p class="error broken-channel" role="alert">
                {format!("Channel “{}” is broken: {}. Fix its target, then send a test.", c.name, c.last_error.clone().unwrap_or_default())}
            </p>
        }).collect_view()}
        <section class="panel" id="email-mode">
            <h2>"Your email alerts"</h2>
            {(!settings.email_configured).then(|| view! {
                <p class="muted">"Email is not configured on this server (FAULTLINE_SMTP_URL), so no email is sent yet."</p>
            })}
            <label for="email-mode-choice">"This project's alerts by email"</label>
            <select
                id="email-mode-choice"
                on:change=move |ev| {
                    if let Ok(m) = event_target_value(&ev).parse::<EmailMode>() {
                        mode.dispatch((project, m));
                    }
                }
            >
                {modes.into_iter().map(|(m, label)| view! { <option value=m.as_str() selected=m == current>{label}</option> }).collect_view()}
            </select>
            {failure(mode, "Could not save")}
        </section>
        {settings.can_manage.then(|| view! {
            <ChannelsPanel project channels=settings.channels.clone() actions />
            <RulesPanel project rules=settings.rules.clone() channels=settings.channels.clone() actions />
        })}
    }
}

/// Where a channel posts, in words.
fn target(c: &Channel) -> String {
    match (c.kind, &c.url) {
        (ChannelKind::Email, _) if c.to.is_empty() => "the project's members".to_owned(),
        (ChannelKind::Email, _) => c.to.join(", "),
        (_, Some(url)) => url.split('?').next().unwrap_or_default().chars().take(60).collect(),
        (_, None) => String::new(),
    }
}

#[component]
fn ChannelsPanel(project: ProjectId, channels: Vec<Channel>, actions: AlertActions) -> impl IntoView {
    let AlertActions { create_channel, rotate, .. } = actions;
    let kind = RwSignal::new(ChannelKind::Webhook);
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let secret = move || {
        let made =
            create_channel.value().get().and_then(Result::ok).or_else(|| rotate.value().get().and_then(Result::ok));
        made.and_then(|m| m.secret.map(|s| (m.channel.name, s))).map(|(name, s)| view! {
            <div class="new-key" role="status">
                <p><strong>{format!("Signing secret of “{name}” — copy it now, it will not be shown again:")}</strong></p>
                <CopyField id="webhook-secret" value=s label="Signing secret" />
            </div>
        })
    };
    let kinds = ChannelKind::ALL
        .iter()
        .map(|k| view! { <option value=k.as_str() selected=*k == ChannelKind::Webhook>{k.label()}</option> })
        .collect_view();
    view! {
        <section class="panel" id="channels">
            <h2>"Channels"</h2>
            <p class="muted">"Where alerts go. Each delivery is retried until the receiver takes it; a receiver that refuses for good marks its channel broken, and the project's admins are told."</p>
            <table class="channels">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Kind"</th><th scope="col">"Target"</th><th scope="col">"Status"</th><th></th></tr></thead>
                <tbody>
                    {channels.into_iter().map(|c| view! { <ChannelRow project channel=c actions /> }).collect_view()}
                </tbody>
            </table>
            <form
                class="stacked-form"
                id="new-channel"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let k = kind.get_untracked();
                    let addresses: Vec<String> = to.get_untracked().split([',', ' ', '\n']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
                    let input = ChannelInput {
                        kind: Some(k),
                        name: Some(name.get_untracked()).filter(|n| !n.trim().is_empty()),
                        url: (k != ChannelKind::Email).then(|| url.get_untracked()),
                        to: (k == ChannelKind::Email).then_some(addresses),
                        token: (k == ChannelKind::Ntfy).then(|| token.get_untracked()).filter(|t| !t.is_empty()),
                        rotate_secret: false,
                    };
                    create_channel.dispatch((project, input));
                }
            >
                <h3>"New channel"</h3>
                <label for="channel-kind">"Kind"</label>
                <select id="channel-kind" on:change=move |ev| { if let Ok(k) = event_target_value(&ev).parse() { kind.set(k) } }>{kinds}</select>
                <label for="channel-name">"Name"</label>
                <input id="channel-name" placeholder="e.g. #ops" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <Show when=move || kind.get() != ChannelKind::Email>
                    <label for="channel-url">{move || match kind.get() { ChannelKind::Ntfy => "Topic URL", ChannelKind::Webhook => "URL", _ => "Webhook URL" }}</label>
                    <input id="channel-url" type="url" placeholder="https://…" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev)) />
                </Show>
                <Show when=move || kind.get() == ChannelKind::Email>
                    <label for="channel-to">"Addresses (empty: the project's members, each as they chose)"</label>
                    <input id="channel-to" placeholder="oncall@example.com" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev)) />
                </Show>
                <Show when=move || kind.get() == ChannelKind::Ntfy>
                    <label for="channel-token">"Access token (optional)"</label>
                    <input id="channel-token" prop:value=move || token.get() on:input=move |ev| token.set(event_target_value(&ev)) />
                </Show>
                <button type="submit" class="primary" disabled=move || create_channel.pending().get()>"Add channel"</button>
            </form>
            {failure(create_channel, "Could not add the channel")}
            {failure(rotate, "Could not rotate the secret")}
            {secret}
        </section>
    }
}

#[component]
fn ChannelRow(project: ProjectId, channel: Channel, actions: AlertActions) -> impl IntoView {
    let AlertActions { delete_channel, rotate, .. } = actions;
    let test = Action::new(move |_: &()| test_channel(project, channel.id));
    let id = channel.id;
    let show_log = RwSignal::new(false);
    let status = channel.status;
    let status_text = match (&channel.last_error, status) {
        (Some(e), ChannelStatus::Failing | ChannelStatus::Broken) => {
            format!("{status}: {}", e.chars().take(160).collect::<String>())
        }
        _ => status.as_str().to_owned(),
    };
    let is_webhook = channel.kind == ChannelKind::Webhook;
    view! {
        <tr class="channel-row" data-channel-id=id.to_string() data-status=status.as_str()>
            <td>{channel.name.clone()}</td>
            <td>{channel.kind.label()}</td>
            <td><code>{target(&channel)}</code></td>
            <td class=format!("channel-status status-{status}")>{status_text}</td>
            <td class="actions">
                <button type="button" disabled=move || test.pending().get() on:click=move |_| { test.dispatch(()); }>"Send test"</button>
                <button type="button" aria-expanded=move || show_log.get().to_string() on:click=move |_| show_log.update(|s| *s = !*s)>"Deliveries"</button>
                {is_webhook.then(|| view! {
                    <button type="button" on:click=move |_| {
                        if confirm("Make a new signing secret? Receivers must use the new one from now on.") { rotate.dispatch((project, id)); }
                    }>"Rotate secret"</button>
                })}
                <button type="button" class="danger" aria-label=format!("Delete channel {}", channel.name) on:click=move |_| {
                    if confirm("Delete this channel and its delivery log?") { delete_channel.dispatch((project, id)); }
                }>"Delete"</button>
            </td>
        </tr>
        {move || test.value().get().map(|r| match r {
            Ok(o) => Either::Left(view! {
            <tr class="test-result"><td colspan="5" role="status">
                {if o.delivered { "Test delivered".to_owned() } else { "Test failed".to_owned() }}
                {o.status.map(|s| format!(" · HTTP {s}"))}
                {o.body.filter(|b| !b.is_empty()).map(|b| format!(" · answer: {}", b.chars().take(300).collect::<String>()))}
                {o.error.map(|e| format!(" · {e}"))}
                {format!(" · {} ms", o.latency_ms)}
            </td></tr>
            }),
            Err(e) => Either::Right(view! { <tr class="test-result"><td colspan="5" role="alert">{format!("Could not test: {e}")}</td></tr> }),
        })}
        <Show when=move || show_log.get()>
            <tr class="delivery-log-row"><td colspan="5"><DeliveryLog project channel=id /></td></tr>
        </Show>
    }
}

#[component]
fn DeliveryLog(project: ProjectId, channel: i64) -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let again = Action::new(|(p, c, d): &(ProjectId, i64, uuid::Uuid)| redeliver(*p, *c, *d));
    let log = Resource::new(move || (refresh.get(), again.version().get()), move |_| list_deliveries(project, channel));
    view! {
        <div class="delivery-log" id=format!("deliveries-{channel}")>
            <p><button type="button" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button></p>
            <Suspense fallback=|| view! { <p class="loading">"Loading deliveries…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! { <p class="empty">"Nothing sent yet."</p> }),
                        Ok(list) => EitherOf3::B(view! {
                            <table class="deliveries">
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Why"</th><th scope="col">"Issue"</th><th scope="col">"Status"</th><th scope="col">"Tries"</th><th scope="col">"Answer"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|d| view! { <DeliveryRow project channel delivery=d again /> }).collect_view()}
                                </tbody>
                            </table>
                        }),
                        Err(e) => EitherOf3::C(view! { <p class="error" role="alert">{format!("Deliveries unavailable: {e}")}</p> }),
                    }
                })}
            </Suspense>
            {failure(again, "Could not redeliver")}
        </div>
    }
}

#[component]
fn DeliveryRow(
    project: ProjectId,
    channel: i64,
    delivery: Delivery,
    again: Action<(ProjectId, i64, uuid::Uuid), Result<(), AppError>>,
) -> impl IntoView {
    let id = delivery.id;
    let answer = match (delivery.last_status, &delivery.last_error) {
        (Some(s), Some(e)) => format!("HTTP {s}: {}", e.chars().take(120).collect::<String>()),
        (Some(s), None) => format!("HTTP {s}"),
        (None, Some(e)) => e.chars().take(120).collect(),
        (None, None) => String::new(),
    };
    let payload = delivery.tries.last().and_then(|t| t.payload.clone()).unwrap_or_default();
    let tries = delivery.tries.clone();
    view! {
        <tr class="delivery-row" data-status=delivery.status.as_str()>
            <td>{delivery.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</td>
            <td>{delivery.trigger.label()}{delivery.recipient.clone().map(|r| format!(" → {r}"))}</td>
            <td>{delivery.issue_id.map(|i| view! { <a href=format!("/issues/{i}")>{format!("#{i}")}</a> })}</td>
            <td class="delivery-status">{delivery.status.as_str()}</td>
            <td>{delivery.attempts}</td>
            <td>{answer}</td>
            <td><button type="button" on:click=move |_| { again.dispatch((project, channel, id)); }>"Redeliver"</button></td>
        </tr>
        <tr class="delivery-detail"><td colspan="7">
            <details>
                <summary>"Payload and tries"</summary>
                <pre class="payload">{payload}</pre>
                <ul>
                    {tries.into_iter().map(|t| view! {
                        <li>{format!("{} · {} ms · {}{}", t.at.format("%H:%M:%S"), t.latency_ms,
                            t.status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}")),
                            t.error.or(t.response).map(|r| format!(" · {}", r.chars().take(200).collect::<String>())).unwrap_or_default())}</li>
                    }).collect_view()}
                </ul>
            </details>
        </td></tr>
    }
}

/// A rule's **When** in words.
fn when_text(rule: &Rule) -> String {
    rule.when
        .iter()
        .map(|w| match w {
            When::Named(WhenName::NewIssue) => "a new issue".to_owned(),
            When::Named(WhenName::Regression) => "a regression".to_owned(),
            When::Named(WhenName::Unignored) => "an ignored issue coming back".to_owned(),
            When::Events { events, minutes } => format!("{events} events in {minutes} minutes"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A rule's filters in words.
fn filter_text(rule: &Rule) -> String {
    let mut parts = Vec::new();
    if let Some(l) = rule.min_level {
        parts.push(format!("level ≥ {l}"));
    }
    if !rule.environments.is_empty() {
        parts.push(format!("environment {}", rule.environments.join(" or ")));
    }
    if let Some(r) = &rule.release {
        parts.push(format!("release {r}"));
    }
    for (k, v) in &rule.tags {
        parts.push(format!("{k}={v}"));
    }
    if parts.is_empty() { "every event".to_owned() } else { parts.join(", ") }
}

#[component]
fn RulesPanel(project: ProjectId, rules: Vec<Rule>, channels: Vec<Channel>, actions: AlertActions) -> impl IntoView {
    let AlertActions { create_rule, delete_rule, .. } = actions;
    let names: std::collections::HashMap<i64, String> = channels.iter().map(|c| (c.id, c.name.clone())).collect();
    let name = RwSignal::new(String::new());
    let on_new = RwSignal::new(true);
    let on_regression = RwSignal::new(true);
    let on_unignored = RwSignal::new(false);
    let events = RwSignal::new(String::new());
    let minutes = RwSignal::new("10".to_owned());
    let level = RwSignal::new(String::new());
    let envs = RwSignal::new(String::new());
    let release = RwSignal::new(String::new());
    let tag = RwSignal::new(String::new());
    let cooldown = RwSignal::new("30".to_owned());
    let chosen = RwSignal::new(Vec::<i64>::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut when = Vec::new();
        if on_new.get_untracked() {
            when.push(When::Named(WhenName::NewIssue));
        }
        if on_regression.get_untracked() {
            when.push(When::Named(WhenName::Regression));
        }
        if on_unignored.get_untracked() {
            when.push(When::Named(WhenName::Unignored));
        }
        if let (Ok(e), Ok(m)) = (events.get_untracked().trim().parse(), minutes.get_untracked().trim().parse()) {
            when.push(When::Events { events: e, minutes: m });
        }
        let tags = tag
            .get_untracked()
            .split_once('=')
            .map(|(k, v)| std::collections::BTreeMap::from([(k.trim().to_owned(), v.trim().to_owned())]))
            .unwrap_or_default();
        let input = RuleInput {
            name: Some(name.get_untracked()),
            when: Some(when),
            min_level: Some(level.get_untracked().parse::<Level>().ok()),
            environments: Some(
                envs.get_untracked().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            ),
            release: Some(Some(release.get_untracked().trim().to_owned()).filter(|r| !r.is_empty())),
            tags: Some(tags),
            channels: Some(chosen.get_untracked()),
            cooldown_minutes: cooldown.get_untracked().trim().parse().ok(),
        };
        create_rule.dispatch((project, input));
    };
    let check = |label: &'static str, id: &'static str, s: RwSignal<bool>| {
        view! {
            <label class="check" for=id><input type="checkbox" id=id prop:checked=move || s.get() on:change=move |ev| s.set(event_target_checked(&ev)) />{label}</label>
        }
    };
    view! {
        <section class="panel" id="rules">
            <h2>"Rules"</h2>
            <p class="muted">"When to alert, for which events, and where. Within a rule's cooldown, repeats for the same issue are held for one follow-up."</p>
            <table class="rules">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"When"</th><th scope="col">"For"</th><th scope="col">"Channels"</th><th scope="col">"Cooldown"</th><th></th></tr></thead>
                <tbody>
                    {rules.into_iter().map(|r| {
                        let id = r.id;
                        let targets = r.channels.iter().filter_map(|c| names.get(c).cloned()).collect::<Vec<_>>().join(", ");
                        view! {
                            <tr class="rule-row" data-rule-id=id.to_string()>
                                <td>{r.name.clone()}</td>
                                <td>{when_text(&r)}</td>
                                <td>{filter_text(&r)}</td>
                                <td>{targets}</td>
                                <td>{if r.cooldown_minutes == 0 { "none".to_owned() } else { format!("{} min", r.cooldown_minutes) }}</td>
                                <td><button type="button" class="danger" aria-label=format!("Delete rule {}", r.name) on:click=move |_| {
                                    if confirm("Delete this rule?") { delete_rule.dispatch((project, id)); }
                                }>"Delete"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form class="stacked-form" id="new-rule" on:submit=submit>
                <h3>"New rule"</h3>
                <label for="rule-name">"Name"</label>
                <input id="rule-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <fieldset>
                    <legend>"When"</legend>
                    {check("A new issue", "rule-new", on_new)}
                    {check("A regression", "rule-regression", on_regression)}
                    {check("An ignored issue comes back", "rule-unignored", on_unignored)}
                    <label for="rule-events">"Or at least"</label>
                    <input id="rule-events" inputmode="numeric" size="6" placeholder="events" prop:value=move || events.get() on:input=move |ev| events.set(event_target_value(&ev)) />
                    <label for="rule-minutes">"events within minutes"</label>
                    <input id="rule-minutes" inputmode="numeric" size="4" prop:value=move || minutes.get() on:input=move |ev| minutes.set(event_target_value(&ev)) />
                </fieldset>
                <fieldset>
                    <legend>"For events"</legend>
                    <label for="rule-level">"Level at least"</label>
                    <select id="rule-level" on:change=move |ev| level.set(event_target_value(&ev))>
                        <option value="">"any"</option>
                        {Level::ALL.iter().map(|l| view! { <option value=l.as_str()>{l.as_str()}</option> }).collect_view()}
                    </select>
                    <label for="rule-envs">"Environments (comma-separated; empty: all)"</label>
                    <input id="rule-envs" prop:value=move || envs.get() on:input=move |ev| envs.set(event_target_value(&ev)) />
                    <label for="rule-release">"Release"</label>
                    <input id="rule-release" prop:value=move || release.get() on:input=move |ev| release.set(event_target_value(&ev)) />
                    <label for="rule-tag">"Tag (key=value)"</label>
                    <input id="rule-tag" prop:value=move || tag.get() on:input=move |ev| tag.set(event_target_value(&ev)) />
                </fieldset>
                <fieldset>
                    <legend>"Send to"</legend>
                    {channels.into_iter().map(|c| {
                        let id = c.id;
                        let input_id = format!("rule-channel-{id}");
                        let label_for = input_id.clone();
                        view! {
                            <label class="check" for=label_for>
                                <input type="checkbox" id=input_id on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|v| { v.retain(|x| *x != id); if on { v.push(id); } });
                                } />
                                {c.name.clone()}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <label for="rule-cooldown">"Cooldown per issue, minutes (0: none)"</label>
                <input id="rule-cooldown" inputmode="numeric" size="5" prop:value=move || cooldown.get() on:input=move |ev| cooldown.set(event_target_value(&ev)) />
                <button type="submit" class="primary" disabled=move || create_rule.pending().get()>"Add rule"</button>
            </form>
            {failure(create_rule, "Could not add the rule")}
            {failure(delete_rule, "Could not delete the rule")}
        </section>
    }
}
