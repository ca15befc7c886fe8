//! The home page's data: totals and the latest errors of the default project.

use crate::model::{AppError, ErrorEvent, Stats};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the home page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub project_name: String,
    pub stats: Stats,
    pub latest: Vec<ErrorEvent>,
}

/// How many errors the home page lists.
pub const LATEST: i64 = 50;

#[server]
pub async fn get_overview() -> Result<Overview, AppError> {
    use crate::model::{Filter, Page};
    use crate::server::{db, error::ServerError, state};
    let st = state()?;
    let project = db::projects::find_by_name(&st.db, "default")
        .await
        .map_err(ServerError::from)?
        .ok_or(AppError::NotFound)?;
    let stats = db::stats::for_project(&st.db, project.id)
        .await
        .map_err(ServerError::from)?;
    let (latest, _) = db::errors::list(
        &st.db,
        project.id,
        &Filter::default(),
        Page {
            limit: LATEST,
            offset: 0,
        },
    )
    .await
    .map_err(ServerError::from)?;
    Ok(Overview {
        project_name: project.name,
        stats,
        latest,
    })
}
