//! SQLite, the embedded default: WAL journal with `synchronous=FULL` (a
//! committed write survives power loss), foreign keys on, a busy timeout,
//! and a single writer connection so that writers never contend.

use std::path::Path;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Executor;

use super::backend;
use crate::config::StoreConfig;
use crate::directory::StoreError;

pub async fn open(url: &str, config: &StoreConfig) -> Result<(AnyPool, AnyPool), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Backend(
            "an in-memory SQLite database cannot be shared between connections; name a file".into(),
        ));
    }
    if let Some(dir) = Path::new(&path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
    }
    let url = if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    };
    let busy_ms = config.busy_timeout.as_millis();
    let pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = {busy_ms}; PRAGMA case_sensitive_like = ON;"
    );
    let options = |max: u32| {
        let pragmas = pragmas.clone();
        AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    conn.execute(pragmas.as_str()).await?;
                    Ok(())
                })
            })
    };
    let write = options(1).connect(&url).await.map_err(backend)?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&write)
        .await
        .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
    let read = options(config.max_connections.max(1))
        .connect(&url)
        .await
        .map_err(backend)?;
    Ok((read, write))
}
