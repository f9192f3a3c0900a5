//! PostgreSQL, for several Roster nodes on one database. One pool serves
//! reads and writes; row-level concurrency is PostgreSQL's own.

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use super::{backend, redact};
use crate::config::StoreConfig;
use crate::directory::StoreError;

pub async fn open(url: &str, config: &StoreConfig) -> Result<(AnyPool, AnyPool), StoreError> {
    let pool = AnyPoolOptions::new()
        .max_connections(config.max_connections.max(2))
        .connect(url)
        .await
        .map_err(|e| {
            StoreError::Backend(format!("cannot connect to {}: {}", redact(url), backend(e)))
        })?;
    sqlx::migrate!("./migrations/postgres")
        .run(&pool)
        .await
        .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
    Ok((pool.clone(), pool))
}
