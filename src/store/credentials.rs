//! The secrets kept beside a user and never served: earlier password
//! hashes (for `password.history`), grace logins used on an expired
//! password, and the TOTP secret with the last time step accepted. The
//! [`Store`](crate::directory::Store) methods of `SqlStore` call these.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{backend, job, write_audit, SqlStore};
use crate::directory::store::TotpSecrets;
use crate::directory::{AuditEvent, StoreError, Timestamp, User};

/// Earlier hashes kept per user; the policy reads at most this many.
const KEPT: i64 = crate::directory::quality::MAX_HISTORY as i64;

/// Stores a user's new password hash, changed at `at`. The hash it
/// replaces goes into the history (the newest [`KEPT`] stay) and the
/// grace logins start again.
pub(super) async fn write_password(
    conn: &mut AnyConnection,
    id: Uuid,
    hash: Option<&str>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let Some(hash) = hash else { return Ok(()) };
    let id = id.to_string();
    sqlx::query(
        "INSERT INTO password_history (user_id, password_hash, replaced_at) \
         SELECT user_id, password_hash, $2 FROM credentials WHERE user_id = $1",
    )
    .bind(&id)
    .bind(at.0)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    sqlx::query(
        "DELETE FROM password_history WHERE user_id = $1 AND replaced_at < COALESCE((\
         SELECT replaced_at FROM password_history WHERE user_id = $1 \
         ORDER BY replaced_at DESC LIMIT 1 OFFSET $2), -1)",
    )
    .bind(&id)
    .bind(KEPT - 1)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    sqlx::query(
        "INSERT INTO credentials (user_id, password_hash, changed_at, grace_used) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
         changed_at = excluded.changed_at, grace_used = 0",
    )
    .bind(&id)
    .bind(hash)
    .bind(at.0)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Marks a user's record changed by the server at `event.at` (a new
/// version) with its TOTP enrolment time set to `enrolled`.
async fn set_enrolled(
    conn: &mut AnyConnection,
    id: &str,
    enrolled: Option<i64>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE users SET totp_enrolled_at = $1, modified_at = $2, version = version + 1, \
         modified_by = $3 WHERE id = $4",
    )
    .bind(enrolled)
    .bind(event.at.0)
    .bind(event.actor_reference())
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

impl SqlStore {
    /// Runs a write that answers a value.
    pub(super) async fn write_returning<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let slot = Arc::new(Mutex::new(None));
        let out = slot.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let value = f(conn).await?;
                if let Ok(mut out) = out.lock() {
                    *out = Some(value);
                }
                Ok(())
            })
        }))
        .await?;
        let value = slot.lock().ok().and_then(|mut s| s.take());
        value.ok_or_else(|| StoreError::Backend("a write answered nothing".into()))
    }

    pub(super) async fn history_of(
        &self,
        id: Uuid,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let id = id.to_string();
        let mut hashes = Vec::with_capacity(limit);
        if let Some(row) = sqlx::query("SELECT password_hash FROM credentials WHERE user_id = $1")
            .bind(&id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
        {
            hashes.push(row.try_get(0).map_err(backend)?);
        }
        let rows = sqlx::query(
            "SELECT password_hash FROM password_history WHERE user_id = $1 \
             ORDER BY replaced_at DESC LIMIT $2",
        )
        .bind(&id)
        .bind((limit - hashes.len()) as i64)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        for row in rows {
            hashes.push(row.try_get(0).map_err(backend)?);
        }
        Ok(hashes)
    }

    pub(super) async fn grace_login(&self, id: Uuid, max: i64) -> Result<Option<i64>, StoreError> {
        self.write_returning(move |conn| {
            Box::pin(async move {
                let row = sqlx::query(
                    "UPDATE credentials SET grace_used = grace_used + 1 \
                     WHERE user_id = $1 AND grace_used < $2 RETURNING grace_used",
                )
                .bind(id.to_string())
                .bind(max)
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                row.map(|r| r.try_get::<i64, _>(0).map(|used| max - used))
                    .transpose()
                    .map_err(backend)
            })
        })
        .await
    }

    pub(super) async fn pending_totp(
        &self,
        id: Uuid,
        secret: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let (secret, event, own) = (secret.to_string(), event.clone(), self.own.clone());
        self.run_write(job(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO totp (user_id, pending) VALUES ($1, $2) \
                     ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending",
                )
                .bind(id.to_string())
                .bind(&secret)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                write_audit(conn, &event, &own).await
            })
        }))
        .await
    }

    pub(super) async fn secrets(&self, id: Uuid) -> Result<TotpSecrets, StoreError> {
        let row = sqlx::query("SELECT secret, pending, last_step FROM totp WHERE user_id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(TotpSecrets::default());
        };
        Ok(TotpSecrets {
            confirmed: row.try_get("secret").map_err(backend)?,
            pending: row.try_get("pending").map_err(backend)?,
            last_step: row.try_get("last_step").map_err(backend)?,
        })
    }

    pub(super) async fn confirm(
        &self,
        id: Uuid,
        step: i64,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let (event, own) = (event.clone(), self.own.clone());
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let id = id.to_string();
                let done = sqlx::query(
                    "UPDATE totp SET secret = pending, pending = NULL, last_step = $2 \
                     WHERE user_id = $1 AND pending IS NOT NULL",
                )
                .bind(&id)
                .bind(step)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                set_enrolled(conn, &id, Some(event.at.0), &event).await?;
                write_audit(conn, &event, &own).await
            })
        }))
        .await?;
        self.one_user("id", id.to_string()).await
    }

    pub(super) async fn take_step(&self, id: Uuid, step: i64) -> Result<bool, StoreError> {
        self.write_returning(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE totp SET last_step = $2 WHERE user_id = $1 AND secret IS NOT NULL \
                     AND (last_step IS NULL OR last_step < $2)",
                )
                .bind(id.to_string())
                .bind(step)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    pub(super) async fn drop_totp(
        &self,
        id: Uuid,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let (event, own) = (event.clone(), self.own.clone());
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let id = id.to_string();
                sqlx::query("DELETE FROM totp WHERE user_id = $1")
                    .bind(&id)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                set_enrolled(conn, &id, None, &event).await?;
                write_audit(conn, &event, &own).await
            })
        }))
        .await?;
        self.one_user("id", id.to_string()).await
    }

    pub(super) async fn add_invite(
        &self,
        id: Uuid,
        token_hash: &str,
        expires: Timestamp,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let (token_hash, event, own) = (token_hash.to_string(), event.clone(), self.own.clone());
        self.run_write(job(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO invites (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
                )
                .bind(&token_hash)
                .bind(id.to_string())
                .bind(expires.0)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                write_audit(conn, &event, &own).await
            })
        }))
        .await
    }

    pub(super) async fn invited(
        &self,
        token_hash: &str,
        now: Timestamp,
        redeem: bool,
    ) -> Result<Option<Uuid>, StoreError> {
        let token_hash = token_hash.to_string();
        let id: Option<String> = if redeem {
            self.write_returning(move |conn| {
                Box::pin(async move {
                    let row = sqlx::query(
                        "UPDATE invites SET used_at = $2 WHERE token_hash = $1 \
                         AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
                    )
                    .bind(&token_hash)
                    .bind(now.0)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?;
                    row.map(|r| r.try_get(0)).transpose().map_err(backend)
                })
            })
            .await?
        } else {
            let row = sqlx::query(
                "SELECT user_id FROM invites WHERE token_hash = $1 \
                 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(&token_hash)
            .bind(now.0)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
            row.map(|r| r.try_get(0)).transpose().map_err(backend)?
        };
        id.map(|id| super::parse_id(&id)).transpose()
    }
}
