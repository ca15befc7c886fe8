//! `AppError`: the error server functions return to the browser (details stay in the server log).
//! On the wire it has the REST API's shape, `{"error":{"code","message"}}`, and its own status.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// No signed-in user (or the session ended).
    #[error("sign in first")]
    Unauthorized,
    /// Signed in, but the user's role does not allow it, or the request came from another site.
    #[error("you may not do this")]
    Forbidden,
    /// The email and password do not match an active account (the same answer for both).
    #[error("wrong email or password")]
    WrongCredentials,
    /// Too many failed sign-ins for this email or from this address.
    #[error("too many failed attempts; try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    /// A value the user entered cannot be used; the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error("the server could not answer; try again")]
    Unavailable,
    #[error("{0}")]
    ServerFn(String),
}

impl AppError {
    /// The HTTP status a server function answers with this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Unauthorized | Self::WrongCredentials => 401,
            Self::Forbidden => 403,
            Self::TooManyAttempts { .. } => 429,
            Self::Invalid(_) => 422,
            Self::Unavailable => 503,
            Self::ServerFn(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::WrongCredentials => "wrong_credentials",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::Invalid(_) => "invalid",
            Self::Unavailable => "unavailable",
            Self::ServerFn(_) => "server_error",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    error: WireBody,
}

#[derive(Serialize, Deserialize)]
struct WireBody {
    code: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let retry_after = match self {
            Self::TooManyAttempts { retry_after } => Some(*retry_after),
            _ => None,
        };
        Wire { error: WireBody { code: self.code().to_owned(), message: self.to_string(), retry_after } }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for AppError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Wire { error } = Wire::deserialize(d)?;
        Ok(match error.code.as_str() {
            "not_found" => Self::NotFound,
            "unauthorized" => Self::Unauthorized,
            "forbidden" => Self::Forbidden,
            "wrong_credentials" => Self::WrongCredentials,
            "too_many_attempts" => Self::TooManyAttempts { retry_after: error.retry_after.unwrap_or(60) },
            "invalid" => Self::Invalid(error.message),
            "unavailable" => Self::Unavailable,
            _ => Self::ServerFn(error.message),
        })
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    /// Arguments the server could not read are the caller's mistake (422), not the server's.
    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr;
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::Invalid(value.to_string())
            }
            other => AppError::ServerFn(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_travel_in_the_rest_shape_and_come_back_the_same() {
        for e in [
            AppError::NotFound,
            AppError::Unauthorized,
            AppError::Forbidden,
            AppError::WrongCredentials,
            AppError::TooManyAttempts { retry_after: 42 },
            AppError::Invalid("password: too short".into()),
            AppError::Unavailable,
            AppError::ServerFn("boom".into()),
        ] {
            let json = serde_json::to_value(&e).unwrap();
            assert!(json["error"]["code"].is_string() && json["error"]["message"].is_string(), "{json}");
            assert_eq!(serde_json::from_value::<AppError>(json).unwrap(), e);
        }
        let json = serde_json::to_value(AppError::TooManyAttempts { retry_after: 42 }).unwrap();
        assert_eq!(json["error"]["retry_after"], 42);
    }
}
