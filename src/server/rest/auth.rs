//! REST authentication: the `X-API-Key` header, resolved to its project through the key cache
//! (`server::keys`), so most requests never touch PostgreSQL to authenticate (`POST /api/errors`
//! takes only keys); and, on every other route, personal API tokens (`Authorization: Bearer`)
//! acting as their user within their scope, on the project `project_id` names.

use crate::model::ProjectId;
use crate::server::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The project whose API key authenticated this request.
#[derive(Clone, Copy, Debug)]
pub struct ApiProject(pub ProjectId);

impl FromRequestParts<AppState> for ApiProject {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        use super::error::ApiError;
        let key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized("missing X-API-Key header"))?;
        let client = crate::server::auth_failures::ClientAddr::of(parts);
        let freshness = state.settings.key_freshness();
        if let Some(retry_after) = state.auth_failures.blocked(client) {
            return match state.keys.known_api_key(key, freshness) {
                Some(project) => Ok(ApiProject(project)),
                None => Err(ApiError::TooManyFailures { retry_after }),
            };
        }
        match state.keys.project_of(&state.db, freshness, key).await? {
            Some(project) => Ok(ApiProject(project)),
            None => {
                state.auth_failures.record(client);
                Err(ApiError::Unauthorized("invalid API key"))
            }
        }
    }
}

/// Who is calling a REST route other than `POST /api/errors`: a project API key (`X-API-Key`,
/// everything in its own project) or a personal token (`Authorization: Bearer`, its user's
/// projects and roles within the token's scope).
#[derive(Clone, Debug)]
pub enum Caller {
    Key(ProjectId),
    Token(TokenCaller),
}

/// A personal token's user and scope.
#[derive(Clone, Debug)]
pub struct TokenCaller {
    pub token: i64,
    pub scope: crate::model::TokenScope,
    pub user: crate::server::db::sessions::SessionUser,
}

impl TokenCaller {
    pub fn is_admin(&self) -> bool {
        self.user.role == crate::model::InstanceRole::Admin
    }
}

/// The `Authorization: Bearer <token>` of a request.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        use super::error::ApiError;
        if parts.headers.contains_key("x-api-key") {
            return ApiProject::from_request_parts(parts, state).await.map(|p| Caller::Key(p.0));
        }
        let token =
            bearer(parts).ok_or(ApiError::Unauthorized("missing X-API-Key header or Authorization: Bearer token"))?;
        let client = crate::server::auth_failures::ClientAddr::of(parts);
        if let Some(retry_after) = state.auth_failures.blocked(client) {
            return Err(ApiError::TooManyFailures { retry_after });
        }
        match crate::server::accounts::tokens::user_of(state, token).await? {
            Some((token, scope, user)) => Ok(Caller::Token(TokenCaller { token, scope, user })),
            None => {
                state.auth_failures.record(client);
                Err(ApiError::Unauthorized("invalid, expired or revoked token"))
            }
        }
    }
}

impl Caller {
    /// Appends to the audit log: this caller (a token's user, or a project's API key) did
    /// `action` from `client`.
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        project: Option<ProjectId>,
        target: &str,
        client: crate::server::auth_failures::ClientAddr,
    ) {
        let address = client.0.map(|a| a.to_string());
        let actor = match self {
            Caller::Token(t) => Ok(&t.user),
            Caller::Key(_) => Err("API key"),
        };
        crate::server::audit::record(state, actor, action, project, target, address.as_deref()).await;
    }

    /// The personal token of a route only tokens may use (managing projects, users, tokens).
    pub fn token(&self) -> Result<&TokenCaller, super::error::ApiError> {
        match self {
            Caller::Token(t) => Ok(t),
            Caller::Key(_) => Err(super::error::ApiError::Forbidden("this route needs a personal API token")),
        }
    }

    /// A token with `admin` scope (creating projects, managing them and their members).
    pub fn admin_scope(&self) -> Result<&TokenCaller, super::error::ApiError> {
        let t = self.token()?;
        if t.scope != crate::model::TokenScope::Admin {
            return Err(super::error::ApiError::Forbidden("this route needs a token with admin scope"));
        }
        Ok(t)
    }

    /// The token of an instance admin with `admin` scope (managing users, reading the audit log).
    pub fn instance_admin(&self) -> Result<&TokenCaller, super::error::ApiError> {
        use super::error::ApiError;
        let t = self.admin_scope()?;
        if !t.is_admin() {
            return Err(ApiError::Forbidden("this route is for instance admins"));
        }
        Ok(t)
    }

    /// The project a request acts on, when the caller may do what `needs` allows there: a key's
    /// own project; for a token, `wanted` (from `project_id`), or the one project its user sees.
    /// Another project answers `404` like one that does not exist; a role or scope too low `403`.
    pub async fn project(
        &self,
        state: &AppState,
        wanted: Option<ProjectId>,
        needs: crate::model::ProjectRole,
    ) -> Result<ProjectId, super::error::ApiError> {
        use super::error::ApiError;
        use crate::server::db;
        let t = match self {
            Caller::Key(p) => {
                return if wanted.is_none_or(|w| w == *p) { Ok(*p) } else { Err(ApiError::NotFound) };
            }
            Caller::Token(t) => t,
        };
        let grant = match wanted {
            Some(id) => db::projects::grant(&state.db, t.user.user, t.is_admin(), id).await?,
            None => {
                let mut all = db::projects::grants(&state.db, t.user.user, t.is_admin()).await?;
                if all.len() > 1 {
                    return Err(ApiError::invalid("project_id", "required: you can see several projects"));
                }
                all.pop()
            }
        };
        let grant = grant.ok_or(ApiError::NotFound)?;
        if !grant.role.min(t.scope.ceiling()).allows(needs) {
            return Err(ApiError::Forbidden(if t.scope.ceiling().allows(needs) {
                "your role in this project does not allow this"
            } else {
                "the token's scope does not allow this"
            }));
        }
        Ok(grant.project.id)
    }
}

/// The `project_id` of a query string (absent when empty); an unreadable one answers `404`, as
/// no project has it.
pub fn project_param(raw: Option<&str>) -> Result<Option<ProjectId>, super::error::ApiError> {
    let Some((_, value)) =
        crate::model::query_pairs(raw.unwrap_or("")).find(|(k, v)| k == "project_id" && !v.is_empty())
    else {
        return Ok(None);
    };
    value.trim().parse::<i64>().map(|id| Some(ProjectId::new(id))).map_err(|_| super::error::ApiError::NotFound)
}

/// Extractors for the project of a request, by what it needs: `Reader` (a viewer's reads),
/// `Triager` (a member's triage), each answering the project as `Caller::project` does, and the
/// caller (for the audit log).
macro_rules! project_extractor {
    ($(#[$m:meta])* $name:ident, $role:expr) => {
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name(pub ProjectId, pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = super::error::ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                let wanted = project_param(parts.uri.query())?;
                let caller = Caller::from_request_parts(parts, state).await?;
                let project = caller.project(state, wanted, $role).await?;
                Ok($name(project, caller))
            }
        }
    };
}

project_extractor!(
    /// The project of a read (`GET`): any role in it, any token scope.
    Reader,
    crate::model::ProjectRole::Viewer
);
project_extractor!(
    /// The project of a triage change (resolve, ignore, delete): a member's role, `write` scope.
    Triager,
    crate::model::ProjectRole::Member
);
