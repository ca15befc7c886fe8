//! Settings the server process makes for itself before it starts: how the kernel backs its heap.

/// Turns transparent huge pages off for this process; answers `false` only if the kernel refused.
///
/// Where the kernel's setting is `always` (common on distributions), khugepaged turns every
/// 2 MiB range of the heap that holds even a few live pages into one whole resident page, so
/// resident memory creeps up in steps under steady load while the heap itself does not grow. A
/// server answering small requests gains nothing from huge pages.
#[cfg(target_os = "linux")]
pub fn keep_heap_out_of_huge_pages() -> bool {
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
}

/// Elsewhere there is no such kernel behaviour to turn off.
#[cfg(not(target_os = "linux"))]
pub fn keep_heap_out_of_huge_pages() -> bool {
    true
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_process_opts_out_of_transparent_huge_pages() {
        assert!(keep_heap_out_of_huge_pages());
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let line = status.lines().find(|l| l.starts_with("THP_enabled:")).expect("THP_enabled line");
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
