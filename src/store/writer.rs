//! Where write transactions run. SQLite has one writer connection, owned by
//! a task that commits the jobs waiting at that moment in one transaction
//! (group commit), each job inside a savepoint of its own so that one job's
//! failure undoes only that job. A caller is answered only after the commit
//! that holds its job is durable. PostgreSQL runs each job in a transaction
//! of its own on its pool.

use futures::future::BoxFuture;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use super::backend;
use crate::directory::StoreError;

/// A unit of work for a write transaction.
pub type Job =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(), StoreError>> + Send>;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// Most jobs committed together.
const MAX_BATCH: usize = 128;

/// Runs write jobs.
pub enum Writer {
    /// Jobs go to the task that owns the single writer connection.
    Batched(mpsc::Sender<(Job, Reply)>),
    /// Each job in its own transaction from the pool.
    Pool(AnyPool),
}

impl Writer {
    /// A group-committing writer over a pool of one connection.
    pub fn batched(pool: AnyPool) -> Writer {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(batch_loop(pool, rx));
        Writer::Batched(tx)
    }

    /// Runs `job` in a write transaction and returns once it is committed.
    pub async fn run(&self, job: Job) -> Result<(), StoreError> {
        match self {
            Writer::Pool(pool) => {
                let mut tx = pool.begin().await.map_err(backend)?;
                job(&mut tx).await?;
                tx.commit().await.map_err(backend)
            }
            Writer::Batched(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send((job, reply))
                    .await
                    .map_err(|_| StoreError::Backend("the writer has stopped".into()))?;
                answer
                    .await
                    .map_err(|_| StoreError::Backend("the writer has stopped".into()))?
            }
        }
    }
}

async fn batch_loop(pool: AnyPool, mut queue: mpsc::Receiver<(Job, Reply)>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&pool, batch).await;
    }
}

async fn run_batch(pool: &AnyPool, batch: Vec<(Job, Reply)>) {
    let mut conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => return fail_all(batch, &e.to_string()),
    };
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch, &e.to_string()),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    if batch.len() == 1 {
        let (job, reply) = batch.into_iter().next().expect("one job");
        let result = job(&mut tx).await;
        if result.is_err() {
            let _ = tx.rollback().await;
            let _ = reply.send(result);
            return;
        }
        outcomes.push((reply, result));
    } else {
        for (job, reply) in batch {
            let result = in_savepoint(&mut tx, job).await;
            outcomes.push((reply, result));
        }
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, result) in outcomes {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (reply, _) in outcomes {
                let _ = reply.send(Err(StoreError::Backend(message.clone())));
            }
        }
    }
}

async fn in_savepoint(conn: &mut AnyConnection, job: Job) -> Result<(), StoreError> {
    let mut savepoint = conn.begin().await.map_err(backend)?;
    match job(&mut savepoint).await {
        Ok(()) => savepoint.commit().await.map_err(backend),
        Err(e) => {
            savepoint.rollback().await.map_err(backend)?;
            Err(e)
        }
    }
}

fn fail_all(batch: Vec<(Job, Reply)>, message: &str) {
    for (_, reply) in batch {
        let _ = reply.send(Err(StoreError::Backend(message.to_string())));
    }
}
