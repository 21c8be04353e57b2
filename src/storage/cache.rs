//! The catalog cache: table definitions in memory so that requests never query the catalog,
//! kept correct across several server instances through PostgreSQL's LISTEN/NOTIFY.
//!
//! Every catalog change sends `NOTIFY dynamo_pg_catalog, '<table name>'` in its transaction. A
//! listener task drops the named entry when the notification arrives. While the listener is not
//! connected the cache is bypassed, since notifications could be missed. A generation counter,
//! bumped on every notification, keeps a lookup that raced with a change from caching what it
//! read before the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::schema::TableDef;

/// The channel catalog changes are announced on.
pub const CHANNEL: &str = "dynamo_pg_catalog";

/// Cached table definitions by name.
#[derive(Default)]
pub struct CatalogCache {
    entries: RwLock<HashMap<String, Arc<TableDef>>>,
    generation: AtomicU64,
    listening: AtomicBool,
}

impl CatalogCache {
    /// The cached definition, if the cache is trustworthy and holds one.
    pub fn get(&self, name: &str) -> Option<Arc<TableDef>> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        self.entries.read().ok()?.get(name).cloned()
    }

    /// The generation to pass to [`CatalogCache::insert`] for a lookup starting now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `def` unless a change was announced since `generation` was read.
    pub fn insert(&self, generation: u64, def: Arc<TableDef>) {
        if let Ok(mut entries) = self.entries.write() {
            if self.generation.load(Ordering::Acquire) == generation
                && self.listening.load(Ordering::Acquire)
            {
                entries.insert(def.name.clone(), def);
            }
        }
    }

    /// Drops one entry (after a change, local or announced).
    pub fn forget(&self, name: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.remove(name);
        }
    }

    fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.clear();
        }
    }
}

/// Keeps a LISTEN connection open for the life of the process, reconnecting when it drops.
/// Stops when `stop` turns true.
pub fn spawn_listener(
    config: tokio_postgres::Config,
    cache: Arc<CatalogCache>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                result = listen(&config, &cache) => {
                    if let Err(e) = result {
                        tracing::warn!("catalog listener: {e}; retrying");
                    }
                }
                _ = stop.wait_for(|s| *s) => return,
            }
            cache.listening.store(false, Ordering::Release);
            cache.forget_all();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

async fn listen(
    config: &tokio_postgres::Config,
    cache: &CatalogCache,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut conn) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(msg) = poll_fn(|cx| conn.poll_message(cx)).await {
            match msg {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("catalog listener connection: {e}");
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // Anything cached before LISTEN took effect may be stale.
    cache.forget_all();
    cache.listening.store(true, Ordering::Release);
    while let Some(name) = rx.recv().await {
        cache.forget(&name);
    }
    driver.abort();
    Ok(())
}
