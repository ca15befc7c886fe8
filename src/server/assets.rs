//! The dashboard's static files: their hashed names (cargo-leptos' `hash.txt`, next to the
//! binary) and how long browsers may keep them. The files themselves, and their brotli and gzip
//! copies made at build time (`--precompress`), are served by leptos_axum's file handler.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use leptos::config::LeptosOptions;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where cargo-leptos writes the hashes of the JS, WASM and CSS files: beside the server binary.
fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join(options.hash_file.as_ref()))
}

/// Whether this build's files carry hashes in their names (a `hash.txt` beside the binary).
pub fn hashed(options: &LeptosOptions) -> bool {
    hash_file(options).is_some_and(|p| p.is_file())
}

/// The stylesheet's URL, with its hash when the files are hashed (for pages outside the app).
pub fn css_href(options: &LeptosOptions) -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let hash = options
            .hash_files
            .then(|| hash_file(options))
            .flatten()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| text.lines().find_map(|l| l.trim().strip_prefix("css:").map(|h| h.trim().to_owned())));
        let name = &options.output_name;
        match hash {
            Some(h) => format!("/{}/{name}.{h}.css", options.site_pkg_dir),
            None => format!("/{}/{name}.css", options.site_pkg_dir),
        }
    })
}

/// A year: hashed files never change under their name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Unhashed files (a debug build) are checked again on every use.
const REVALIDATE: &str = "no-cache";

/// Sets `Cache-Control` on an answer of the static-file handler for `path` when it is one of the
/// site's package files: immutable for a year when their names carry hashes, else revalidated
/// each time. Called by the router's fallback, which alone serves files, so no route pays for it.
pub fn cache_control(options: &LeptosOptions, path: &str, res: &mut Response) {
    let is_pkg = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(options.site_pkg_dir.as_ref()))
        .is_some_and(|rest| rest.starts_with('/'));
    if is_pkg && (res.status().is_success() || res.status() == axum::http::StatusCode::NOT_MODIFIED) {
        let value = if options.hash_files { IMMUTABLE } else { REVALIDATE };
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
}
