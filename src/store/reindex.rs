//! Index rows of declared attributes that became `indexed` (or were
//! declared again) while users already held values: a server brings them
//! up to date at start, so that the SQL the command-line tools run finds
//! what the read model finds.

use std::collections::HashMap;

use sqlx::Row;

use super::bulk::{index_rows, insert_index_rows};
use super::{backend, job, SqlStore};
use crate::directory::attributes::Storage;
use crate::directory::{StoreError, User};

/// Counts, per declared indexed attribute, of the users holding a value.
pub type Counts = HashMap<&'static str, usize>;

impl SqlStore {
    /// The keys of the declared attributes kept in the index table.
    pub(super) fn declared_index_keys(&self) -> Vec<&'static str> {
        self.attrs
            .users
            .iter()
            .filter(|d| d.declared.is_some() && d.storage == Storage::Index)
            .map(|d| d.key)
            .collect()
    }

    /// Adds to `counts` the users of `batch` holding a value under each key.
    pub(super) fn count_values(&self, keys: &[&'static str], batch: &[User], counts: &mut Counts) {
        for def in self.attrs.users.iter().filter(|d| keys.contains(&d.key)) {
            let holding = batch
                .iter()
                .filter(|u| !def.values_of(u).is_empty())
                .count();
            *counts.entry(def.key).or_default() += holding;
        }
    }

    /// The served users with index rows under each of `keys`.
    pub(super) async fn indexed_users(&self, keys: &[&'static str]) -> Result<Counts, StoreError> {
        let mut out = Counts::new();
        for key in keys {
            let row = sqlx::query(
                "SELECT COUNT(DISTINCT i.user_id) FROM user_index i JOIN users u ON u.id = i.user_id \
                 WHERE i.attr = $1 AND u.status <> 'banned'",
            )
            .bind(*key)
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
            let n: i64 = row.try_get(0).map_err(backend)?;
            out.insert(key, n as usize);
        }
        Ok(out)
    }

    /// Removes every index row under `keys`.
    pub(super) async fn clear_index(&self, keys: Vec<&'static str>) -> Result<(), StoreError> {
        self.run_write(job(move |conn| {
            Box::pin(async move {
                for key in keys {
                    sqlx::query("DELETE FROM user_index WHERE attr = $1")
                        .bind(key)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                }
                Ok(())
            })
        }))
        .await
    }

    /// Writes the index rows under `keys` of the users of `batch`.
    pub(super) async fn index_batch(
        &self,
        keys: &[&'static str],
        batch: &[User],
    ) -> Result<(), StoreError> {
        let rows = index_rows(self.attrs.users, batch, Some(keys));
        if rows.is_empty() {
            return Ok(());
        }
        self.run_write(job(move |conn| {
            Box::pin(async move { insert_index_rows(conn, &rows).await })
        }))
        .await
    }
}
