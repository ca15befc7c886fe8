//! Exceptions and threads: the event's exceptions, bounded, each with its frames (from the
//! thread it names, or the crashed one), and what is read off them.

use super::fields::{string, values, values_ref};
use super::limits;
use serde_json::{Map, Value};

/// The exceptions (the event's `exception`), oldest first, each with its frames list normalised
/// to an array. An exception without frames takes the stack of the thread it names; the last one
/// (the exception raised) also of the crashed or current thread. Each thread's stack goes to at
/// most one exception, so the result is never larger than the event.
pub(super) fn exceptions(exception: Option<Value>, ev: &Map<String, Value>) -> Vec<Value> {
    let mut exceptions: Vec<Value> = values(exception).into_iter().filter(Value::is_object).collect();
    exceptions.drain(..exceptions.len().saturating_sub(limits::EXCEPTIONS));
    for e in &mut exceptions {
        if let Some(Value::Array(frames)) = e.pointer_mut("/stacktrace/frames") {
            trim_frames(frames);
        }
    }
    if exceptions.iter().all(|e| frames_of(e).next().is_some()) {
        return exceptions;
    }
    let threads = values_ref(ev.get("threads"));
    let mut used = vec![false; threads.len()];
    // Thread id → the first thread with a stack under it, so matching costs one lookup.
    let mut by_thread_id: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (t, thread) in threads.iter().enumerate() {
        if let Some(id) = thread.get("id").filter(|id| !id.is_null())
            && thread.get("stacktrace").is_some()
        {
            by_thread_id.entry(id.to_string()).or_insert(t);
        }
    }
    let last = exceptions.len().saturating_sub(1);
    for (i, e) in exceptions.iter_mut().enumerate() {
        if frames_of(e).next().is_some() {
            continue;
        }
        let free = |t: usize| !used[t] && threads[t].get("stacktrace").is_some();
        let by_id = e
            .get("thread_id")
            .filter(|id| !id.is_null())
            .and_then(|id| by_thread_id.get(&id.to_string()).copied())
            .filter(|&t| free(t));
        let flag =
            |name: &str| (0..threads.len()).find(|&t| free(t) && threads[t].get(name) == Some(&Value::Bool(true)));
        let thread = by_id.or_else(|| if i == last { flag("crashed").or_else(|| flag("current")) } else { None });
        if let (Some(t), Some(obj)) = (thread, e.as_object_mut())
            && let Some(st) = threads[t].get("stacktrace")
        {
            used[t] = true;
            obj.insert("stacktrace".into(), trimmed_copy(st));
        }
    }
    exceptions
}

/// Drops the middle of a stack trace longer than `limits::FRAMES`.
pub(super) fn trim_frames(frames: &mut Vec<Value>) {
    if frames.len() > limits::FRAMES {
        let tail = limits::FRAMES - limits::FRAMES_HEAD;
        frames.drain(limits::FRAMES_HEAD..frames.len() - tail);
    }
}

/// A copy of a thread's `stacktrace` with at most `limits::FRAMES` frames (copying only those).
pub(super) fn trimmed_copy(stacktrace: &Value) -> Value {
    let Some(obj) = stacktrace.as_object() else {
        return stacktrace.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let copy = match (k.as_str(), v) {
            ("frames", Value::Array(frames)) if frames.len() > limits::FRAMES => {
                let tail = limits::FRAMES - limits::FRAMES_HEAD;
                let kept = frames[..limits::FRAMES_HEAD].iter().chain(&frames[frames.len() - tail..]);
                Value::Array(kept.cloned().collect())
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), copy);
    }
    Value::Object(out)
}

/// The frames (objects only) of an exception's stack trace, without collecting them.
pub(super) fn frames_of(e: &Value) -> impl DoubleEndedIterator<Item = &Value> + Clone {
    e.get("stacktrace").map(frames_in).into_iter().flatten()
}

/// The frames (objects only) of a `stacktrace` value.
pub(super) fn frames_in(stacktrace: &Value) -> impl DoubleEndedIterator<Item = &Value> + Clone {
    stacktrace.get("frames").and_then(Value::as_array).into_iter().flatten().filter(|f| f.is_object())
}

pub(super) fn is_synthetic(e: &Value) -> bool {
    e.pointer("/mechanism/synthetic") == Some(&Value::Bool(true))
}

pub(super) fn crashing_function(e: &Value) -> Option<String> {
    frames_of(e).next_back().and_then(|f| string(f.get("function")))
}

/// `Type: value`, or whichever of the two exists.
pub(super) fn exception_line(e: &Value) -> String {
    let ty = string(e.get("type"));
    let value = string(e.get("value")).or_else(|| e.get("value").filter(|v| !v.is_null()).map(Value::to_string));
    match (ty, value) {
        (Some(t), Some(v)) => format!("{t}: {v}"),
        (Some(t), None) => t,
        (None, Some(v)) => v,
        (None, None) => "Error".into(),
    }
}
