//! Load shedding for ingest: a global budget of request bytes held in memory, and a bounded pool
//! for the CPU work of decoding bodies and checking events, off the async threads.
//!
//! Every byte of a request body ingest holds (as received, then decompressed) is reserved from
//! one budget (`FAULTLINE_INGEST_MAX_BYTES_IN_FLIGHT`) while the request runs; a request that
//! cannot get its bytes within `WAIT` is answered `503` with `Retry-After`, so overload is shed
//! instead of being absorbed into memory. Work too large to do on a request's own thread (bodies
//! that decode to more than a few hundred KiB, see `handlers`; large REST bodies) runs on Tokio's
//! blocking threads through `offload`, at most `FAULTLINE_INGEST_CPU_TASKS` at a time, so it
//! never stalls the threads that answer health checks and other requests.

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Budget unit: 1 KiB.
const UNIT: usize = 1024;
/// How long a request may wait for room in the budget before it is refused.
const WAIT: Duration = Duration::from_secs(2);
/// REST JSON bodies up to this size are parsed on the request's own thread: moving them would
/// cost more than the work.
pub const INLINE_MAX: usize = 64 * 1024;

/// The budget ran out, or a body is over its limit.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("the server is at its limit of request bytes in memory; retry shortly")]
    Exhausted,
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body could not be read: {0}")]
    Read(String),
}

/// The shared limits, cheap to clone.
#[derive(Clone)]
pub struct Budget {
    bytes: Arc<Semaphore>,
    cpu: Arc<Semaphore>,
}

/// Bytes reserved for one request; given back when dropped.
pub struct Reservation {
    budget: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

fn units(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

impl Budget {
    /// `max_bytes` held by all requests together; `cpu_tasks` decodes at a time.
    pub fn new(max_bytes: usize, cpu_tasks: usize) -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(max_bytes.div_ceil(UNIT).max(1))),
            cpu: Arc::new(Semaphore::new(cpu_tasks.max(1))),
        }
    }

    /// An empty reservation to grow.
    pub fn reservation(&self) -> Reservation {
        Reservation { budget: self.bytes.clone(), permit: None }
    }

    /// Bytes of the budget free now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits() * UNIT
    }

    /// Runs `work` on a blocking thread, at most `cpu_tasks` at once.
    pub async fn offload<T, F>(&self, work: F) -> Result<T, BudgetError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(WAIT, self.cpu.clone().acquire_owned())
            .await
            .map_err(|_| BudgetError::Exhausted)?
            .map_err(|_| BudgetError::Exhausted)?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await;
        result.map_err(|e| BudgetError::Read(format!("the decoding task failed: {e}")))
    }

    /// Reads a body of at most `limit` bytes, reserving each chunk before it is kept (waiting up
    /// to `WAIT` for room).
    pub async fn read(&self, body: Body, limit: usize, reservation: &mut Reservation) -> Result<Bytes, BudgetError> {
        let mut body = body;
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BudgetError::Read(e.to_string()))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            total += chunk.len();
            if total > limit {
                return Err(BudgetError::TooLarge { limit });
            }
            reservation.wait_for(chunk.len()).await?;
            chunks.push(chunk);
        }
        Ok(match chunks.len() {
            0 => Bytes::new(),
            1 => chunks.swap_remove(0),
            _ => {
                let mut all = Vec::with_capacity(total);
                for c in chunks {
                    all.extend_from_slice(&c);
                }
                all.into()
            }
        })
    }
}

impl Reservation {
    fn merge(&mut self, more: OwnedSemaphorePermit) {
        match &mut self.permit {
            Some(p) => p.merge(more),
            None => self.permit = Some(more),
        }
    }

    /// Reserves `bytes` more, waiting up to `WAIT` for room.
    pub async fn wait_for(&mut self, bytes: usize) -> Result<(), BudgetError> {
        let n = units(bytes);
        if n == 0 {
            return Ok(());
        }
        let permit = tokio::time::timeout(WAIT, self.budget.clone().acquire_many_owned(n))
            .await
            .map_err(|_| BudgetError::Exhausted)?
            .map_err(|_| BudgetError::Exhausted)?;
        self.merge(permit);
        Ok(())
    }

    /// Reserves `bytes` more if there is room now (for blocking code, which must not wait).
    pub fn try_take(&mut self, bytes: usize) -> Result<(), BudgetError> {
        let n = units(bytes);
        if n == 0 {
            return Ok(());
        }
        let permit = self.budget.clone().try_acquire_many_owned(n).map_err(|_| BudgetError::Exhausted)?;
        self.merge(permit);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_hold_their_bytes_until_dropped() {
        let budget = Budget::new(64 * 1024, 1);
        let mut a = budget.reservation();
        a.try_take(48 * 1024).unwrap();
        let mut b = budget.reservation();
        assert!(matches!(b.try_take(32 * 1024), Err(BudgetError::Exhausted)), "no room while a holds its bytes");
        drop(a);
        b.try_take(32 * 1024).unwrap();
        assert_eq!(budget.available(), 32 * 1024);
    }

    #[tokio::test]
    async fn a_body_over_its_limit_or_the_budget_is_refused() {
        let budget = Budget::new(16 * 1024, 1);
        let mut r = budget.reservation();
        let body = Body::from(vec![b'x'; 8 * 1024]);
        assert_eq!(budget.read(body, 10_000, &mut r).await.unwrap().len(), 8 * 1024);
        let mut other = budget.reservation();
        let too_big = Body::from(vec![b'x'; 12 * 1024]);
        assert!(matches!(budget.read(too_big, 20_000, &mut other).await, Err(BudgetError::Exhausted)));
        let mut third = budget.reservation();
        assert!(matches!(
            budget.read(Body::from(vec![b'x'; 100]), 50, &mut third).await,
            Err(BudgetError::TooLarge { limit: 50 })
        ));
    }

    #[tokio::test]
    async fn offloaded_work_runs_and_answers() {
        let budget = Budget::new(1024, 2);
        assert_eq!(budget.offload(|| 6 * 7).await.unwrap(), 42);
    }
}
