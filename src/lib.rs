//! Roster: a directory server with a SCIM 2.0 face and an LDAP v3 face over
//! one user/group store. See the README's architecture section.

pub mod config;
pub mod directory;
pub mod http;
pub mod ldap;
mod net;
pub mod scim;
pub mod selfservice;
pub mod store;
pub mod tls;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use config::Config;
use directory::attributes::Attributes;
use directory::declared::Declared;
use directory::{Clock, Directory, DirectoryError, StoreError};

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Directory(#[from] DirectoryError),
    #[error("cannot listen for {what} on {addr}: {source}")]
    Listen {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Opens the store named by the configuration and builds the directory
/// service on it for the command-line tools: every read goes to the
/// database.
pub async fn open_directory(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Directory, StartError> {
    let store = store::open(&config.database_url(), &config.store, attributes(config)?).await?;
    Ok(Directory::new(store, clock, config)?)
}

/// The attribute tables: the built-in attributes and those the declaration
/// file (`profile.attributes`) declares.
pub fn attributes(config: &Config) -> Result<Attributes, StartError> {
    let Some(path) = &config.profile.attributes else {
        return Ok(Attributes::default());
    };
    let declared = Declared::load(
        path,
        config.profile.max_binary_bytes,
        &Attributes::is_builtin,
    )
    .map_err(StartError::Config)?;
    Ok(Attributes::new(&declared))
}

/// The directory a server runs on: reads come from an in-memory view of
/// the store, kept in step with it.
async fn serve_directory(config: &Config, clock: Arc<dyn Clock>) -> Result<Directory, StartError> {
    let store =
        store::open_served(&config.database_url(), &config.store, attributes(config)?).await?;
    Ok(Directory::new(store, clock, config)?)
}

/// Runs `job` every `every` (never when it is zero), until `stop`.
async fn every<F, Fut>(every: std::time::Duration, mut stop: watch::Receiver<bool>, mut job: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if every.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        job().await;
    }
}

/// Makes the accounts unused past the inactivity window inactive
/// (`Directory::sweep_inactive`).
async fn sweep_inactive(directory: Directory) {
    match directory.sweep_inactive().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(accounts = n, "inactivity sweep: accounts made inactive"),
        Err(e) => tracing::warn!(error = %e, "inactivity sweep failed"),
    }
}

/// Deletes audit events older than `audit.retention`.
async fn prune_audit(directory: Directory) {
    match directory.prune_audit().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(events = n, "audit retention: old events deleted"),
        Err(e) => tracing::warn!(error = %e, "audit retention failed"),
    }
}

/// A running server.
pub struct Server {
    pub http_addr: SocketAddr,
    pub ldap_addr: SocketAddr,
    /// Where LDAPS listens, when a certificate is configured.
    pub ldaps_addr: Option<SocketAddr>,
    pub directory: Directory,
    /// The administrator token made on first start of an empty store; the
    /// only time its text exists outside the caller.
    pub bootstrap_token: Option<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Opens the store, creates the bootstrap token if there is none, and
    /// starts the HTTP (SCIM) and LDAP listeners.
    pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<Server, StartError> {
        let base = ldap::dn::Dn::parse(&config.base_dn)
            .map_err(|e| StartError::Config(format!("base_dn: {e}")))?;
        let tls = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key).map_err(StartError::Config)?),
            _ => None,
        };
        let directory = serve_directory(config, clock).await?;
        let bootstrap_token = directory.bootstrap_token().await?;
        let listen = |what: &'static str, addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { what, addr, source })
        };
        let http_listener = listen("SCIM/HTTP", config.http.listen).await?;
        let ldap_listener = listen("LDAP", config.ldap.listen).await?;
        let ldaps_listener = match &tls {
            Some(_) => Some(listen("LDAPS", config.ldap.ldaps_listen).await?),
            None => None,
        };
        let ldaps_addr = ldaps_listener.as_ref().and_then(|l| l.local_addr().ok());
        let http_addr = http_listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                what: "SCIM/HTTP",
                addr: config.http.listen,
                source,
            })?;
        let ldap_addr = ldap_listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                what: "LDAP",
                addr: config.ldap.listen,
                source,
            })?;
        let (shutdown, stop) = watch::channel(false);
        let app = http::app(directory.clone(), &config.http);
        let ldap_state = Arc::new(ldap::LdapState {
            directory: directory.clone(),
            tree: ldap::tree::Tree::new(base)
                .with_posix(config.posix.enabled)
                .with_attributes(directory.attributes()),
            config: config.ldap.clone(),
            tls: tls.clone(),
        });
        let mut tasks = vec![
            tokio::spawn(http::serve(
                http_listener,
                app,
                config.http.header_read_timeout,
                tls.clone().filter(|_| config.http.https),
                stop.clone(),
            )),
            tokio::spawn(ldap::serve(
                ldap_listener,
                ldap_state.clone(),
                false,
                stop.clone(),
            )),
        ];
        let sweeps = match directory.policy().inactive_cutoff(directory.now()) {
            Some(_) => config.policy.inactivity_sweep_interval,
            None => std::time::Duration::ZERO,
        };
        let d = directory.clone();
        tasks.push(tokio::spawn(every(sweeps, stop.clone(), move || {
            sweep_inactive(d.clone())
        })));
        let prunes = match config.audit.retention.is_zero() {
            true => std::time::Duration::ZERO,
            false => std::time::Duration::from_secs(86400).min(config.audit.retention),
        };
        let d = directory.clone();
        tasks.push(tokio::spawn(every(prunes, stop.clone(), move || {
            prune_audit(d.clone())
        })));
        if let Some(listener) = ldaps_listener {
            tasks.push(tokio::spawn(ldap::serve(listener, ldap_state, true, stop)));
        }
        tracing::info!(%http_addr, %ldap_addr, base_dn = %config.base_dn, "Roster is serving");
        Ok(Server {
            http_addr,
            ldap_addr,
            ldaps_addr,
            directory,
            bootstrap_token,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting connections and waits for the listeners to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
