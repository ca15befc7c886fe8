//! What the machine says about the processes under test (Linux `/proc`): resident memory, and
//! CPU time per role (servers, PostgreSQL, Redis, the generator), to show where the time goes.

use std::collections::BTreeMap;
use std::time::Instant;

/// Resident memory of a process in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    kib_field(&format!("/proc/{pid}/status"), "VmRSS:").map_or(f64::NAN, |kb| kb / 1024.0)
}

/// How much of a process's anonymous memory sits in transparent huge pages, in MiB: the kernel's
/// khugepaged turns a sparsely used 2 MiB range into a whole resident page, so this shows how
/// much of the resident figure that accounts for.
pub fn huge_pages_mib(pid: u32) -> f64 {
    kib_field(&format!("/proc/{pid}/smaps_rollup"), "AnonHugePages:").map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The value of a `<field> <n> kB` line of a `/proc` file.
fn kib_field(path: &str, field: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
}

/// How many sockets a process holds open (its clients' connections, plus its PostgreSQL and
/// Redis pools).
pub fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| {
        dir.flatten()
            .filter(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
            })
            .count()
    })
}

/// utime + stime of one process, in clock ticks (1/100 s on Linux).
fn ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may contain spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks used so far by each role, and when they were read.
pub struct CpuSnapshot {
    at: Instant,
    by_role: BTreeMap<&'static str, u64>,
    machine_busy: u64,
}

/// Reads the CPU time of the servers (`server_pids`), every PostgreSQL and Redis process, this
/// generator, and the whole machine.
pub fn cpu_snapshot(server_pids: &[u32]) -> CpuSnapshot {
    let mut by_role: BTreeMap<&'static str, u64> = BTreeMap::new();
    let me = std::process::id().to_string();
    let servers: Vec<String> = server_pids.iter().map(u32::to_string).collect();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let role = if servers.contains(&pid) {
                "server"
            } else if pid == me {
                "generator"
            } else if comm.trim() == "postgres" {
                "postgres"
            } else if comm.trim() == "redis-server" {
                "redis"
            } else {
                continue;
            };
            *by_role.entry(role).or_default() += ticks(&pid).unwrap_or(0);
        }
    }
    let machine_busy = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.to_owned();
            let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
            Some(v.iter().sum::<u64>() - v.get(3).copied().unwrap_or(0) - v.get(4).copied().unwrap_or(0))
        })
        .unwrap_or(0);
    CpuSnapshot { at: Instant::now(), by_role, machine_busy }
}

/// CPU used between two snapshots per role, in percent of one core, plus "other" (everything
/// else on the machine) — e.g. `server 96%, postgres 71%, …`.
pub fn cpu_between(a: &CpuSnapshot, b: &CpuSnapshot) -> BTreeMap<String, f64> {
    let secs = (b.at - a.at).as_secs_f64().max(1e-3);
    let pct = |t: u64| t as f64 / secs; // ticks are 1/100 s, so ticks per second is percent of a core
    let mut out = BTreeMap::new();
    let mut known = 0;
    for (role, t) in &b.by_role {
        let d = t.saturating_sub(a.by_role.get(role).copied().unwrap_or(0));
        known += d;
        out.insert((*role).to_owned(), pct(d));
    }
    out.insert("other".into(), pct(b.machine_busy.saturating_sub(a.machine_busy).saturating_sub(known)));
    out
}

/// `server 96%, postgres 71%, redis 9%, generator 14%, other 3%` (percent of one core).
pub fn describe(cpu: &BTreeMap<String, f64>) -> String {
    ["server", "postgres", "redis", "generator", "other"]
        .iter()
        .filter_map(|r| cpu.get(*r).map(|p| format!("{r} {p:.0}%")))
        .collect::<Vec<_>>()
        .join(", ")
}
