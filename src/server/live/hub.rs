//! `LiveHub`: this process's fan-out of live-update messages from the Redis channel to its
//! `/live` streams (it knows nothing of the state, so the state can hold it).

use deadpool_redis::redis;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The process's fan-out of update messages (JSON text), cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self { tx: broadcast::channel(256).0 }
    }
}

impl LiveHub {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    /// Forwards the Redis channel to the hub until `shutdown`, reconnecting after failures.
    pub async fn run(self, redis_url: String, channel: String, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let session = async {
                let client = redis::Client::open(redis_url.as_str())?;
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    if let Ok(text) = msg.get_payload::<String>() {
                        // No receivers is fine: nobody is watching.
                        let _ = self.tx.send(text.into());
                    }
                }
                Ok::<(), redis::RedisError>(())
            };
            tokio::select! {
                result = session => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "live updates: Redis subscription lost; retrying");
                    }
                }
                _ = shutdown.changed() => break,
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
}
