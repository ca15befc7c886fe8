//! Tests: normalising and grouping an SDK event costs memory in proportion to its size, whatever
//! its shape. A counting allocator (this test binary's only) measures every byte the worker's
//! per-event steps allocate on the test's thread; property tests generate adversarial events up
//! to 1 MiB, and a regression test covers each amplification once found.

use super::sentry;
use crate::server::detail;
use crate::server::worker::limits;
use chrono::Utc;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// `System`, counting the bytes each thread asks for (growth only, for reallocations).
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = ALLOCATED.try_with(|a| a.set(a.get().saturating_add(bytes)));
}

// SAFETY: every call is forwarded to `System` unchanged; counting touches only a thread-local
// `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Bytes allocated on this thread while `f` runs.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

/// What the worker does with one event after parsing it: normalise, group, pack the detail.
struct Outcome {
    message: usize,
    stack_trace: usize,
    grouping_key: usize,
    context: usize,
    detail: usize,
}

/// Normalises, groups and packs one event as the worker does.
fn process(event: Value) -> (sentry::Normalized, Option<Vec<u8>>) {
    let (mut n, rest) = sentry::normalize_owned(event, Utc::now());
    let _fingerprint = crate::server::sha256_hex(&n.grouping_key);
    let stored = detail::split(&mut n.context, rest);
    (n, stored)
}

/// The stored sizes, measured after (and apart from) processing.
fn outcome((n, stored): (sentry::Normalized, Option<Vec<u8>>)) -> Outcome {
    Outcome {
        message: n.message.chars().count(),
        stack_trace: n.stack_trace.map_or(0, |s| s.chars().count()),
        grouping_key: n.grouping_key.len(),
        context: n.context.to_string().len(),
        detail: stored.map_or(0, |d| detail::read(&d).map_or(0, |doc| doc.to_string().len())),
    }
}

/// Most bytes normalising may allocate per byte of event JSON (measured worst: about 4), plus a
/// constant for the texts built up to their limits. Normalising moves the event's parts instead
/// of copying them; what it copies (texts, the detail JSON and its LZ4 block, one thread's stack)
/// is copied once, and what it keeps of lists is bounded (`limits`).
const ALLOC_PER_BYTE: usize = 8;
const ALLOC_CONSTANT: usize = 256 * 1024;

/// Processes `event` and asserts the cost and stored sizes stay within their bounds.
fn assert_linear(event: Value) {
    let size = event.to_string().len();
    let (processed, allocated) = allocated_by(|| process(event));
    let out = outcome(processed);
    let bound = ALLOC_PER_BYTE * size + ALLOC_CONSTANT;
    assert!(allocated <= bound, "{allocated} bytes allocated for a {size}-byte event (bound {bound})");
    assert!(out.message <= limits::MESSAGE, "message of {} characters", out.message);
    assert!(out.stack_trace <= limits::STACK_TRACE, "trace of {} characters", out.stack_trace);
    assert!(
        out.grouping_key <= limits::FINGERPRINT_PARTS * (limits::KEY_PART + 1) + 8,
        "key of {} bytes",
        out.grouping_key
    );
    assert!(out.detail <= limits::DETAIL, "detail of {} bytes", out.detail);
    assert!(out.context <= 2 * size + 4096, "context of {} bytes for a {size}-byte event", out.context);
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("leaf"), |inner, _| json!({ "a": [inner] }))
}

fn frames(n: usize, text: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"function": format!("fn_{i}"), "module": "m".repeat(text), "in_app": i % 2 == 0, "lineno": i}))
        .collect()
}

/// One adversarial event of about `scale` bytes, of the shape `kind` picks.
fn adversarial(kind: u8, scale: usize, seed: usize) -> Value {
    let scale = scale.max(64);
    match kind % 8 {
        // Object params referenced many times by a template.
        0 => json!({"logentry": {"message": "{a}".repeat(scale / 6), "params": {"a": "x".repeat(scale / 2)}}}),
        // List params, each used once, with a huge template.
        1 => {
            json!({"logentry": {"message": "%s ".repeat(scale / 6), "params": vec!["y".repeat(seed % 64 + 1); scale / 8]}})
        }
        // Many frameless exceptions and a crashed thread with a big stack.
        2 => json!({
            "exception": {"values": vec![json!({"type": "E", "value": "v"}); scale / 40]},
            "threads": {"values": [{"id": 1, "crashed": true, "stacktrace": {"frames": frames(scale / 200, 40)}}]},
        }),
        // A fingerprint of `{{ default }}` over a large default key.
        3 => json!({
            "fingerprint": vec!["{{ default }}"; scale / 32],
            "exception": {"values": (0..scale / 400).map(|i| json!({"type": format!("T{i}"), "stacktrace": {"frames": frames(15, 8)}})).collect::<Vec<_>>()},
        }),
        // Deep nesting in every free-form part.
        4 => {
            let deep = nested(100);
            json!({"extra": {"d": deep.clone()}, "contexts": {"c": deep.clone()}, "user": {"u": deep}, "message": "m".repeat(scale / 2)})
        }
        // Huge key counts.
        5 => {
            let map: serde_json::Map<String, Value> = (0..scale / 16).map(|i| (format!("k{i}"), json!(i))).collect();
            json!({"tags": Value::Object(map.clone()), "extra": Value::Object(map), "message": "keys"})
        }
        // Many exceptions with frames and long values and code lines.
        6 => json!({"exception": {"values": (0..scale / 2000).map(|i| json!({
            "type": "Boom", "value": format!("{i} {}", "'q' ".repeat(100)),
            "stacktrace": {"frames": (0..10).map(|j| json!({"filename": format!("/a/{j}.py"), "function": "f", "context_line": "c".repeat(150)})).collect::<Vec<_>>()}
        })).collect::<Vec<_>>()}}),
        // Breadcrumbs, threads with thread ids, and a message of many lines.
        _ => json!({
            "breadcrumbs": vec![json!({"message": "b".repeat(50)}); scale / 80],
            "exception": {"values": (0..scale / 1000).map(|i| json!({"type": "E", "thread_id": i})).collect::<Vec<_>>()},
            "threads": {"values": (0..scale / 1000).map(|i| json!({"id": i, "current": true, "stacktrace": {"frames": frames(3, 20)}})).collect::<Vec<_>>()},
            "message": "line\n".repeat(scale / 10),
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn adversarial_events_cost_memory_in_proportion_to_their_size(kind in 0u8..8, scale in 1_000usize..900_000, seed in 0usize..1000) {
        assert_linear(adversarial(kind, scale, seed));
    }

    #[test]
    fn any_message_params_cost_in_proportion(template in "[{}%a-z ]{0,400}", reps in 1usize..2000, param in 0usize..20_000) {
        let template = template.repeat(reps);
        assert_linear(json!({"logentry": {"message": template.clone(), "params": {"a": "p".repeat(param), "b": "q"}}}));
        assert_linear(json!({"logentry": {"message": template, "params": vec!["p".repeat(param % 500); 50]}}));
    }
}

#[test]
fn a_template_bomb_is_stored_at_the_message_limit() {
    // The event of the report: 10,000 `{a}` and a 20,000-character parameter (50 KB).
    let ev = json!({"logentry": {"message": "{a}".repeat(10_000), "params": {"a": "x".repeat(20_000)}}});
    let (n, _) = sentry::normalize_owned(ev.clone(), Utc::now());
    assert_eq!(n.message.chars().count(), limits::MESSAGE);
    assert!(n.message.chars().all(|c| c == 'x'));
    assert_linear(ev);
}

#[test]
fn frameless_exceptions_share_one_thread_stack_not_copy_it_each() {
    let ev = json!({
        "exception": {"values": vec![json!({"type": "E", "value": "v"}); 5_000]},
        "threads": {"values": [{"id": 1, "crashed": true, "stacktrace": {"frames": frames(200, 40)}}]},
    });
    let (mut n, rest) = sentry::normalize_owned(ev.clone(), Utc::now());
    let with_frames =
        n.context["exception"]["values"].as_array().unwrap().iter().filter(|e| e.get("stacktrace").is_some()).count();
    assert_eq!(with_frames, 1, "only the raised exception takes the crashed thread's stack");
    assert!(detail::split(&mut n.context, rest).is_some());
    assert_linear(ev);
}

#[test]
fn a_fingerprint_of_many_defaults_builds_the_default_key_once() {
    let exceptions: Vec<Value> =
        (0..200).map(|i| json!({"type": format!("T{i}"), "stacktrace": {"frames": frames(15, 30)}})).collect();
    let ev = json!({"fingerprint": vec!["{{ default }}"; 20_000], "exception": {"values": exceptions}});
    let (n, _) = sentry::normalize_owned(ev.clone(), Utc::now());
    assert!(n.grouping_key.starts_with("fp\x1fsha256:"), "a long default key enters as its digest");
    assert_eq!(n.grouping_key.matches('\x1f').count(), limits::FINGERPRINT_PARTS);
    assert!(n.context["grouping_key"].as_str().unwrap().chars().count() <= limits::TEMPLATE);
    assert_linear(ev);
}

#[test]
fn short_fingerprints_and_default_keys_keep_their_grouping() {
    let ev = json!({"message": "a", "fingerprint": ["{{ default }}", "x", "{{default}}"]});
    let (n, _) = sentry::normalize_owned(ev, Utc::now());
    assert_eq!(n.grouping_key, "fp\x1fmsg\x1fa\x1fx\x1fmsg\x1fa");
}

#[test]
fn object_params_fill_in_one_pass_without_substituting_inside_values() {
    let ev = json!({"logentry": {"message": "{a} and {b} and {c} and {", "params": {"a": "{b}", "b": "2"}}});
    let (n, _) = sentry::normalize_owned(ev, Utc::now());
    assert_eq!(n.message, "{b} and 2 and {c} and {");
}

#[test]
fn long_traces_stop_at_their_limit_and_say_so() {
    let ev = json!({"exception": {"values": (0..400).map(|i| json!({"type": "E", "value": i,
        "stacktrace": {"frames": (0..20).map(|_| json!({"function": "f", "filename": "x".repeat(40), "context_line": "y".repeat(5000)})).collect::<Vec<_>>()}
    })).collect::<Vec<_>>()}});
    let (n, _) = sentry::normalize_owned(ev, Utc::now());
    let trace = n.stack_trace.unwrap();
    assert!(trace.chars().count() <= limits::STACK_TRACE);
    assert!(trace.ends_with("(trace truncated)"));
}
