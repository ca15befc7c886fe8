//! The projects page (`/projects`): every project the user sees with their role, links to its
//! issues and settings, and a form to create one (its first API key is shown once).

use crate::api::projects::CreateProject;
use crate::ui::pages::settings::CopyField;
use crate::ui::projects::use_projects;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let projects = use_projects();
    let create = ServerAction::<CreateProject>::new();
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            projects.reload();
        }
    });
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let created = move || {
        create.value().get().map(|r| match r {
            Ok(p) => {
                let slug = p.project.slug.clone();
                Either::Left(view! {
                    <div class="new-key" role="status" id="project-created">
                        <p><strong>{format!("Project “{}” created. Its first API key — copy it now, it will not be shown again:", p.project.name)}</strong></p>
                        <CopyField id="new-project-key" value=p.api_key label="API key" />
                        <p>
                            <a href=format!("/settings?project={slug}")>"Set up its SDK"</a>
                            " · "
                            <a href=format!("/?project={slug}")>"Open its issues"</a>
                        </p>
                    </div>
                }
                )
            }
            Err(e) => Either::Right(view! { <p class="error" role="alert">{format!("Could not create the project: {e}")}</p> }),
        })
    };
    view! {
        <section id="projects" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Projects"</h1>
            <section class="panel">
                <h2>"New project"</h2>
                <p>"A project gets its own DSN and API key; you become its admin."</p>
                <ActionForm action=create attr:class="inline-form">
                    <label for="new-project-name">"Name"</label>
                    <input id="new-project-name" name="name" required maxlength="100" placeholder="e.g. Checkout API" />
                    <button type="submit" class="primary" disabled=move || create.pending().get()>"Create project"</button>
                </ActionForm>
                {created}
            </section>
            <Transition fallback=|| view! { <p class="loading">"Loading projects…"</p> }>
                {move || Suspend::new(async move {
                    match projects.list.await {
                        Ok(list) if list.is_empty() => EitherOf3::A(view! {
                            <p class="empty" id="no-projects">"You are not a member of any project yet. Create one, or ask an admin to add you."</p>
                        }),
                        Ok(list) => EitherOf3::B(view! {
                            <table class="projects">
                                <thead><tr><th scope="col">"Project"</th><th scope="col">"Slug"</th><th scope="col">"Your role"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|p| view! {
                                        <tr class="project-row" data-project=p.slug.clone()>
                                            <td><a href=format!("/?project={}", p.slug)>{p.name.clone()}</a></td>
                                            <td><code>{p.slug.clone()}</code></td>
                                            <td>{p.role.as_str()}</td>
                                            <td><a href=format!("/settings?project={}", p.slug) aria-label=format!("Settings of {}", p.name)>"Settings"</a>
                                                " · " <a href=format!("/alerts?project={}", p.slug) aria-label=format!("Alerts of {}", p.name)>"Alerts"</a></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }),
                        Err(e) => EitherOf3::C(view! { <p class="error" role="alert">{format!("Projects unavailable: {e}")}</p> }),
                    }
                })}
            </Transition>
        </section>
    }
}
