//! Shutdown through the real `faultline` binary: on SIGTERM with a `/live` stream open, a request
//! in flight and events queued for the worker, the process ends the stream, answers the request,
//! stores what it accepted, and exits in time.

use crate::process::{ServerProcess, http, read_answer};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[sqlx::test]
async fn sigterm_ends_live_streams_finishes_requests_and_batches_and_exits_in_time(pool: PgPool) {
    let (email, password) = ("ops@example.com", "an admin password");
    let env = [
        ("FAULTLINE_SHUTDOWN_TIMEOUT_SECS", "10"),
        ("FAULTLINE_WORKERS", "1"),
        ("FAULTLINE_ADMIN_EMAIL", email),
        ("FAULTLINE_ADMIN_PASSWORD", password),
    ];
    let mut server = ServerProcess::start(&pool, &env).await;
    let addr = server.addr.clone();
    let cookie = server.session(email, password).await;
    let auth = [server.auth()];
    let store = format!("/api/{}/store/", server.project);

    // A dashboard's live stream.
    let mut live = TcpStream::connect(&addr).await.unwrap();
    live.write_all(format!("GET /live HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n").as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("text/event-stream") {
        let n = tokio::time::timeout(Duration::from_secs(10), live.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the live stream closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    // Events for the worker, and one request whose body is only half sent.
    let mut accepted = 0;
    for n in 0..300 {
        let event = format!(r#"{{"message": "before shutdown {n}"}}"#);
        if http(&addr, "POST", &store, &auth, event.as_bytes()).await.0 == 200 {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 300);
    // The request announces its body and waits for the server's `100 Continue`, which hyper sends
    // once the handler starts reading it: from then on the request is in flight.
    let body = br#"{"message": "in flight at shutdown"}"#;
    let mut in_flight = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {store} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nExpect: 100-continue\r\nX-Sentry-Auth: {}\r\nContent-Length: {}\r\n\r\n",
        auth[0].1,
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    let mut continued = Vec::new();
    while !String::from_utf8_lossy(&continued).contains("100 Continue") {
        let n = tokio::time::timeout(Duration::from_secs(10), in_flight.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed before 100 Continue");
        continued.extend_from_slice(&buf[..n]);
    }

    let pid = i32::try_from(server.child.id().unwrap()).unwrap();
    // SAFETY: sends a signal to the child this test started; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let signalled = Instant::now();
    in_flight.write_all(body).await.unwrap();
    let (status, answer) = read_answer(in_flight).await;
    assert_eq!(status, 200, "the request in flight was answered: {answer}");

    let live_ended = tokio::time::timeout(Duration::from_secs(12), async {
        loop {
            match live.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(live_ended.is_ok(), "the live stream was not ended");
    let exit =
        tokio::time::timeout(Duration::from_secs(15), server.child.wait()).await.expect("exited in time").unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(signalled.elapsed() < Duration::from_secs(12), "exit took {:?}", signalled.elapsed());

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM errors").fetch_one(&pool).await.unwrap();
    let mut redis = server.redis().await;
    let prefix = &server.prefix;
    let left: u64 =
        deadpool_redis::redis::cmd("XLEN").arg(format!("{prefix}:events")).query_async(&mut redis).await.unwrap();
    let summary: (u64, deadpool_redis::redis::Value, deadpool_redis::redis::Value, deadpool_redis::redis::Value) =
        deadpool_redis::redis::cmd("XPENDING")
            .arg(format!("{prefix}:events"))
            .arg("workers")
            .query_async(&mut redis)
            .await
            .unwrap();
    let pending = summary.0;
    server.clean_redis().await;
    assert_eq!(stored + left as i64, 301, "every accepted event is stored or still queued");
    assert_eq!(pending, 0, "no entry was taken and left unfinished");
    assert!(stored >= 300, "the worker stored what was queued before the signal ({stored})");
}
