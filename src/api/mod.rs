//! Server functions: typed calls from the dashboard to the server (stubs in the browser build).

pub mod issues;
pub mod projects;
pub mod triggers;
