//! The dashboard's files: served pre-compressed (brotli, gzip) as the browser accepts them, and
//! cached for a year when their names carry hashes, revalidated each time when they do not.

use crate::helpers::leptos_options;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use faultline::server::config::Settings;
use faultline::server::startup;
use faultline::server::state::AppState;
use http_body_util::BodyExt;
use sqlx::PgPool;
use tower::ServiceExt;

/// A site directory with a hashed WASM file and its compressed copies.
fn site() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("faultline-test-site-{}", uuid::Uuid::new_v4().simple()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("faultline.0123abcd.wasm"), b"\0asm plain").unwrap();
    std::fs::write(pkg.join("faultline.0123abcd.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("faultline.0123abcd.wasm.gz"), b"gzip bytes").unwrap();
    root
}

async fn get(router: &axum::Router, path: &str, accept: &str) -> (StatusCode, Option<String>, Option<String>, Vec<u8>) {
    let req = Request::builder().uri(path).header("accept-encoding", accept).body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let header = |n: &str| res.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, encoding, cache) = (res.status(), header("content-encoding"), header("cache-control"));
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, encoding, cache, body)
}

#[sqlx::test]
async fn hashed_files_are_served_precompressed_and_cached_for_a_year(pool: PgPool) {
    let root = site();
    for hashed in [true, false] {
        let mut options = leptos_options();
        options.site_root = root.to_string_lossy().into_owned().into();
        options.hash_files = hashed;
        let settings = Settings::for_tests("postgres://unused", &format!("fltest:{}", uuid::Uuid::new_v4().simple()));
        let state = AppState::with_pool(settings, options, pool.clone()).unwrap();
        let router = startup::build_router(state);
        let path = "/pkg/faultline.0123abcd.wasm";
        let (status, encoding, cache, body) = get(&router, path, "gzip, deflate, br").await;
        assert_eq!((status, encoding.as_deref(), body.as_slice()), (StatusCode::OK, Some("br"), &b"brotli bytes"[..]));
        let want = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
        assert_eq!(cache.as_deref(), Some(want));
        let (_, encoding, _, body) = get(&router, path, "gzip").await;
        assert_eq!((encoding.as_deref(), body.as_slice()), (Some("gzip"), &b"gzip bytes"[..]));
        let (_, encoding, _, body) = get(&router, path, "identity").await;
        assert_eq!((encoding, body.as_slice()), (None, &b"\0asm plain"[..]));
        // A missing file is not cached (its 404 page names the build's files, so only unhashed here:
        // a hashed build reads their names from the hash.txt beside the binary).
        if !hashed {
            let (status, _, cache, _) = get(&router, "/pkg/faultline.ffff.wasm", "br").await;
            assert_eq!((status, cache), (StatusCode::NOT_FOUND, None));
        }
    }
    std::fs::remove_dir_all(root).unwrap();
}
