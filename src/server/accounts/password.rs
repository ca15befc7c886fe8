//! Passwords: Argon2id with OWASP's parameters (19 MiB of memory, 2 passes, 1 lane), kept as PHC
//! strings (which carry their parameters, so they can be raised later). Hashing runs on a few
//! threads of its own at the lowest CPU priority, each resting after every hash so that it is
//! busy at most `DUTY_PERCENT` of the time: a flood of sign-in attempts waits in line (and after
//! `WAIT` is refused as busy) instead of taking CPU from ingest, the worker, PostgreSQL and
//! Redis — the scheduler's priority alone does not do that, since other processes are scheduled
//! as groups of their own. A wrong password and an unknown account cost the same work.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Shortest password accepted.
pub const MIN_LEN: usize = 10;
/// Longest password accepted (hashing cost does not depend on it, but the request's size does).
pub const MAX_LEN: usize = 1024;
/// The share of its time a hashing thread may spend hashing (a hash takes about 15 ms of one
/// core: with one thread at most about 6 sign-ins a second, a tenth of a core).
const DUTY_PERCENT: u32 = 10;
/// How long a hash waits for its turn before the attempt is refused as busy.
const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password has at least {MIN_LEN} characters")]
    TooShort,
    #[error("a password has at most {MAX_LEN} characters")]
    TooLong,
    /// Every hashing slot stayed taken for `WAIT`.
    #[error("too many sign-in attempts at once; try again")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Checks a new password's length (in characters).
pub fn check_new(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        n if n < MIN_LEN => Err(PasswordError::TooShort),
        n if n > MAX_LEN => Err(PasswordError::TooLong),
        _ => Ok(()),
    }
}

fn argon2() -> Argon2<'static> {
    // 19 MiB, 2 iterations, 1 degree of parallelism: OWASP's Password Storage Cheat Sheet.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Internal(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Internal(e.to_string()))
}

/// True when `password` matches the PHC string `stored`; a stored string that does not parse
/// matches nothing.
fn verify_now(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

type Job = Box<dyn FnOnce() + Send>;

/// The process's password hasher: cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    slots: Arc<Semaphore>,
    /// Work for the hashing threads (they end when the last clone is dropped).
    jobs: mpsc::Sender<Job>,
    /// A hash of no one's password, verified against when the account does not exist.
    decoy: Arc<OnceLock<String>>,
}

/// Gives the calling thread the lowest CPU priority (on Linux, `setpriority` with `who = 0`
/// applies to the calling thread only). Best effort: where it fails, hashing runs at normal
/// priority.
fn lowest_priority() {
    // SAFETY: a system call on the calling thread's scheduling priority; no memory is involved.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

impl Hasher {
    /// `concurrency` hashing threads, so at most that many hashes at once (each takes 19 MiB
    /// and a core for a few tens of ms).
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("password-{n}")).spawn(move || {
                lowest_priority();
                loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let started = std::time::Instant::now();
                    job();
                    std::thread::sleep(started.elapsed() * (100 - DUTY_PERCENT) / DUTY_PERCENT);
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self { slots: Arc::new(Semaphore::new(concurrency)), jobs, decoy: Arc::default() }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
        let permit = tokio::time::timeout(WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| PasswordError::Busy)?
            .map_err(|_| PasswordError::Busy)?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).map_err(|_| PasswordError::Internal("the hashing threads stopped".into()))?;
        let out = answer.await.map_err(|_| PasswordError::Internal("a hashing thread failed".into()))?;
        drop(permit);
        Ok(out)
    }

    /// Hashes a new password (its length checked first).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_new(password)?;
        let password = password.to_owned();
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` is the one `stored` was made from. With no stored hash (an unknown
    /// account) the same work is done against a decoy, and the answer is false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, PasswordError> {
        if password.len() > MAX_LEN * 4 {
            return Ok(false);
        }
        let (password, stored, decoy) = (password.to_owned(), stored.map(str::to_owned), self.decoy.clone());
        self.run(move || match stored {
            Some(stored) => verify_now(&password, &stored),
            None => {
                let decoy = decoy.get_or_init(|| hash_now("no account has this password").unwrap_or_default());
                let _ = verify_now(&password, decoy);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = Hasher::new(2);
        let stored = hasher.hash("correct horse battery").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(hasher.verify("correct horse battery", Some(&stored)).await.unwrap());
        assert!(!hasher.verify("correct horse batterY", Some(&stored)).await.unwrap());
        // Two hashes of one password differ (each has its own salt).
        assert_ne!(stored, hasher.hash("correct horse battery").await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_or_a_damaged_hash_never_matches() {
        let hasher = Hasher::new(1);
        assert!(!hasher.verify("whatever password", None).await.unwrap());
        assert!(!hasher.verify("whatever password", Some("not a phc string")).await.unwrap());
        assert!(!hasher.verify("", Some("$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB")).await.unwrap());
    }

    #[tokio::test]
    async fn short_and_overlong_passwords_are_refused_before_any_hashing() {
        let hasher = Hasher::new(1);
        assert_eq!(hasher.hash("nine char").await, Err(PasswordError::TooShort));
        assert_eq!(hasher.hash(&"é".repeat(MAX_LEN + 1)).await, Err(PasswordError::TooLong));
        // Ten characters, counted as characters, not bytes.
        assert!(hasher.hash("éééééééééé").await.is_ok());
    }

    #[tokio::test]
    async fn hashing_waits_for_a_free_slot_instead_of_running_unbounded() {
        let hasher = Hasher::new(1);
        let held = hasher.slots.clone().acquire_owned().await.unwrap();
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("a long enough password").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "hashing started without a slot");
        drop(held);
        assert!(waiting.await.unwrap().is_ok());
    }
}
