//! CPU-heavy work (bcrypt) on the blocking pool, at most a fixed number of jobs at a time.
//!
//! Unbounded, every sign-in attempt becomes one more thread competing for the cores, and the async
//! executor — which serves everything else, `/healthz` included — gets a shrinking share of them.

use std::sync::Arc;

use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    #[error("the blocking job panicked or was cancelled")]
    Join(#[from] tokio::task::JoinError),
    #[error("the job limiter is closed")]
    Closed(#[from] tokio::sync::AcquireError),
}

pub struct BoundedBlocking {
    permits: Arc<Semaphore>,
}

impl BoundedBlocking {
    pub fn new(max_jobs: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(max_jobs.max(1))) }
    }

    /// One job per core: more cannot finish sooner, and would only take the executor's share.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
    }

    /// Runs `job` on the blocking pool once a slot is free; waiting for the slot does not block.
    ///
    /// # Errors
    /// When the job panicked.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, BlockingError> {
        let permit = self.permits.clone().acquire_owned().await?;
        // The permit moves into the job: a caller that gives up waiting (its client left) does not free
        // the slot while the hash still runs.
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn no_more_jobs_run_at_once_than_allowed() -> Result<(), BlockingError> {
        let pool = Arc::new(BoundedBlocking::new(2));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..8).map(|_| {
            let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            })
        });
        for job in futures_util::future::join_all(jobs).await {
            job??;
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        Ok(())
    }
}
