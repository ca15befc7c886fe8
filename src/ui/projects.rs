//! The signed-in user's projects as the whole dashboard shares them (one read, again after a
//! project is created, renamed or deleted), and the header's project switcher.

use crate::api::projects::list_projects;
use crate::model::{AppError, ProjectBrief, query_pairs};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

/// The caller's projects, provided by `App`.
#[derive(Clone, Copy)]
pub struct Projects {
    pub list: Resource<Result<Vec<ProjectBrief>, AppError>>,
    changed: RwSignal<u64>,
}

impl Projects {
    /// Reads the list once for the whole page and provides it.
    pub fn provide() -> Self {
        let changed = RwSignal::new(0u64);
        let list = Resource::new(move || changed.get(), |_| list_projects());
        let projects = Self { list, changed };
        provide_context(projects);
        projects
    }

    /// Reads the list again (after a create, rename or delete).
    pub fn reload(self) {
        self.changed.update(|n| *n += 1);
    }
}

/// The provided list (a fresh one where none is, as in a test rendering one component).
pub fn use_projects() -> Projects {
    use_context::<Projects>().unwrap_or_else(Projects::provide)
}

/// The `project` parameter of a URL query string.
pub fn project_param(search: &str) -> Option<String> {
    query_pairs(search).find(|(k, v)| k == "project" && !v.is_empty()).map(|(_, v)| v)
}

/// `(value, label)` options: All projects (`""`), then each project by slug.
pub fn project_options(list: &[ProjectBrief]) -> Vec<(String, String)> {
    std::iter::once((String::new(), "All projects".to_owned()))
        .chain(list.iter().map(|p| (p.slug.clone(), p.name.clone())))
        .collect()
}

/// The header's switcher: the project the URL shows (`?project=`), or All projects. Choosing
/// one shows its issues, or the same page of it on its settings or alerts page.
#[component]
pub fn ProjectSwitcher(projects: Vec<ProjectBrief>) -> impl IntoView {
    let location = use_location();
    let current = Memo::new(move |_| project_param(&location.search.get()).unwrap_or_default());
    let navigate = use_navigate();
    let on_change = move |ev: leptos::ev::Event| {
        let slug = event_target_value(&ev);
        // A project's own page (settings, alerts) stays that page of the chosen project.
        let path = location.pathname.get_untracked();
        let own_page = matches!(path.as_str(), "/settings" | "/alerts");
        let to = match (slug.is_empty(), own_page) {
            (true, true) => "/projects".to_owned(),
            (true, false) => "/".to_owned(),
            (false, true) => format!("{path}?project={slug}"),
            (false, false) => format!("/?project={slug}"),
        };
        navigate(&to, Default::default());
    };
    view! {
        <label class="visually-hidden" for="project-switcher">"Project"</label>
        <select id="project-switcher" class="switcher" on:change=on_change>
            {project_options(&projects).into_iter().map(|(slug, name)| {
                let chosen = slug.clone();
                view! { <option value=slug selected=move || current.get() == chosen>{name}</option> }
            }).collect_view()}
        </select>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_parameter_is_read_from_the_query() {
        assert_eq!(project_param("?status=all&project=web-eu").as_deref(), Some("web-eu"));
        assert_eq!(project_param("project="), None);
        assert_eq!(project_param(""), None);
    }
}
