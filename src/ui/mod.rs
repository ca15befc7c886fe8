//! Dashboard components, rendered on the server and hydrated in the browser.

pub mod components;
pub mod live;
pub mod pages;
pub mod projects;
pub mod reporter;
