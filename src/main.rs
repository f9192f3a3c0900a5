//! The `roster` command: run the server, or administer its store directly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Map, Value};

use roster::config::Config;
use roster::directory::{Actor, Directory, Filter, Group, Query, SystemClock, TokenScope, User};
use roster::transfer::users::Format;
use roster::{open_directory, Server};

// mimalloc: the server allocates many small, short-lived values per request
// (entries, JSON); glibc's allocator spent a third of the CPU on them and
// fragments a long-running heap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Roster: a directory server with SCIM 2.0 and LDAP v3 over one store.
#[derive(Parser)]
#[command(name = "roster", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes to find its configuration and store.
#[derive(Args)]
struct StoreArgs {
    /// TOML configuration file (keys as in the README).
    #[arg(long, global = true, value_name = "FILE", env = "ROSTER_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the embedded SQLite database [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://<data-dir>/roster.db].
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: SCIM over HTTP and LDAP over TCP.
    Serve(ServeArgs),
    /// Manage SCIM bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect and administer users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect groups; restore or purge banned ones.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Import users from CSV (a header row naming attributes), JSON lines
    /// (a SCIM User resource a line) or LDIF (an OpenLDAP or 389-ds dump:
    /// users, groups and memberships, password hashes kept). Existing
    /// users (same userName or externalId) are updated, so importing a
    /// file again changes nothing.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export users or groups in a format `roster import` reads back.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Make certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Show the newest audit events.
    Audit {
        /// How many events to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// Only events about this user (banned ones too).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Only events since TIME: RFC 3339 (2026-12-01T08:00:00Z) or an age (24h, 7d).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address for SCIM over HTTP [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// Address for LDAP [default: 127.0.0.1:3389].
    #[arg(long, value_name = "ADDR")]
    ldap_listen: Option<SocketAddr>,
    /// LDAP base DN [default: dc=example,dc=com].
    #[arg(long, value_name = "DN")]
    base_dn: Option<String>,
    /// Log filter, e.g. info or roster=debug [default: info].
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// PEM certificate (then its chain) for LDAPS, StartTLS and --https.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Address for LDAPS [default: 127.0.0.1:3636, once a certificate is set].
    #[arg(long, value_name = "ADDR")]
    ldaps_listen: Option<SocketAddr>,
    /// Serve SCIM over HTTPS with the same certificate.
    #[arg(long)]
    https: bool,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a SCIM bearer token and print it on stdout (and nothing else).
    Create {
        /// A name that says who or what uses the token (shown in the audit trail).
        #[arg(long)]
        name: String,
        /// What the token may do: admin (everything), read-only, or users (/Users only).
        #[arg(long, default_value = "admin", value_parser = ["admin", "read-only", "users"])]
        scope: String,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Write a development CA (ca.pem) and a server certificate and key
    /// (server.pem, server.key) for 127.0.0.1 and localhost. For trying
    /// TLS out and for tests, not for production.
    Dev {
        /// Where to write the files.
        #[arg(long, value_name = "DIR", default_value = "certs/dev")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// List users.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// List the banned users (deleted over SCIM, kept with their history).
        #[arg(long)]
        banned: bool,
        /// Only users whose userName, first name, last name or email
        /// contains TEXT (ignoring case).
        #[arg(long)]
        search: Option<String>,
        /// Only users with this status: active, disabled, locked, inactive.
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one user: every attribute, status, MFA state, last login,
    /// who created it and when.
    Show {
        /// The userName (or id).
        name: String,
        /// Print the SCIM resource (with the account state) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-validate a locked, inactive or disabled user: active again, failed
    /// logins cleared, the inactivity clock restarted.
    Activate {
        /// The userName (or id).
        name: String,
    },
    /// Set a generated password, print it once, and (with
    /// password.must_change_after_reset, the default) make the user change
    /// it at the next login.
    ResetPassword {
        /// The userName (or id).
        name: String,
        /// Generate the password (the only way: no password is ever typed
        /// on a command line).
        #[arg(long, default_value_t = true)]
        generate: bool,
    },
    /// Bring a banned user back, disabled until activated.
    Restore {
        /// The userName or, when several banned users had it, the id.
        name: String,
    },
    /// Erase a banned user for good (an erasure request); the audit trail
    /// records the purge.
    Purge {
        /// The userName or, when several banned users had it, the id.
        name: String,
    },
    /// Print a one-time link (valid for password.invite_valid_for, default
    /// 72h) at which the user sets their own password.
    Invite {
        /// The userName (or id).
        name: String,
    },
    /// Multi-factor authentication of a user: `require` it (the user then
    /// enrols a TOTP app at /self-service/mfa/totp), `reset` their factor
    /// (they enrol again), or `disable` it (not required, factor removed).
    Mfa {
        action: MfaAction,
        /// The userName (or id).
        name: String,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import users (and, from LDIF, groups and memberships).
    Users {
        /// The file: .csv, .xlsx (or .xls, .ods), .jsonl/.json or .ldif
        /// (or say --format).
        file: PathBuf,
        /// csv, xlsx, json (lines) or ldif; by default the file's extension.
        #[arg(long)]
        format: Option<String>,
        /// Check every row and report the bad ones; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import group definitions (JSON lines, as `roster export groups`
    /// writes them): missing groups are created, and each group gets
    /// exactly the members its line names.
    Groups {
        /// The JSON-lines file.
        file: PathBuf,
        /// Check every line; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Every served user, on stdout.
    Users {
        /// csv, json (lines of SCIM resources) or ldif (inetOrgPerson and
        /// posixAccount entries, without passwords).
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Every served group as JSON lines, members by name.
    Groups,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MfaAction {
    Require,
    Reset,
    Disable,
}

#[derive(Subcommand)]
enum GroupCommand {
    /// List groups.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// List the banned groups (deleted over SCIM, kept with their history).
        #[arg(long)]
        banned: bool,
    },
    /// Show one group: its members, who created it and when.
    Show {
        /// The group's name (or id).
        name: String,
        /// Print the SCIM resource as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring a banned group back (its memberships ended with the ban).
    Restore {
        /// The name or, when several banned groups had it, the id.
        name: String,
    },
    /// Erase a banned group for good; the audit trail records the purge.
    Purge {
        /// The name or, when several banned groups had it, the id.
        name: String,
    },
}

/// Puts the flags that were given into the shape of the configuration.
fn overrides(store: &StoreArgs, serve: Option<&ServeArgs>) -> Value {
    let mut root = Map::new();
    if let Some(d) = &store.data_dir {
        root.insert("data_dir".into(), json!(d));
    }
    if let Some(u) = &store.database_url {
        root.insert("database_url".into(), json!(u));
    }
    if let Some(s) = serve {
        let mut http = Map::new();
        if let Some(a) = s.http_listen {
            http.insert("listen".into(), json!(a.to_string()));
        }
        if s.https {
            http.insert("https".into(), json!(true));
        }
        if !http.is_empty() {
            root.insert("http".into(), Value::Object(http));
        }
        let mut ldap = Map::new();
        if let Some(a) = s.ldap_listen {
            ldap.insert("listen".into(), json!(a.to_string()));
        }
        if let Some(a) = s.ldaps_listen {
            ldap.insert("ldaps_listen".into(), json!(a.to_string()));
        }
        if !ldap.is_empty() {
            root.insert("ldap".into(), Value::Object(ldap));
        }
        if let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) {
            root.insert("tls".into(), json!({ "cert": cert, "key": key }));
        }
        if let Some(b) = &s.base_dn {
            root.insert("base_dn".into(), json!(b));
        }
        let mut log = Map::new();
        if let Some(l) = &s.log_level {
            log.insert("level".into(), json!(l));
        }
        if let Some(f) = &s.log_format {
            log.insert("format".into(), json!(f));
        }
        if !log.is_empty() {
            root.insert("log".into(), Value::Object(log));
        }
    }
    Value::Object(root)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn serve(config: Config) -> Result<(), String> {
    init_logging(&config);
    let server = Server::start(&config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    // Loading the read model leaves freed rows and batches behind; give
    // that memory back to the system now rather than keeping it.
    // SAFETY: mi_collect only walks mimalloc's own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) };
    if let Some(token) = &server.bootstrap_token {
        println!("Bootstrap admin token (shown this once; only its hash is stored):");
        println!("{token}");
    }
    let scheme = if config.http.https { "https" } else { "http" };
    println!(
        "SCIM at {scheme}://{}/scim/v2, LDAP at ldap://{}, base DN {}",
        server.http_addr, server.ldap_addr, config.base_dn
    );
    if let Some(addr) = server.ldaps_addr {
        println!("LDAPS at ldaps://{addr} (StartTLS on the LDAP port)");
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
}

/// A point in time given as RFC 3339 or as an age (`24h` ago).
fn since_time(directory: &Directory, text: &str) -> Result<roster::directory::Timestamp, String> {
    if let Some(t) = roster::directory::Timestamp::parse_rfc3339(text) {
        return Ok(t);
    }
    let age = roster::config::parse_duration(text).map_err(|_| {
        format!("--since {text:?}: give RFC 3339 (2026-12-01T08:00:00Z) or an age (24h)")
    })?;
    Ok(roster::directory::Timestamp(
        directory.now().0 - age.as_millis() as i64,
    ))
}

/// A served user named by userName or id.
async fn served_user(directory: &Directory, name: &str) -> Result<User, String> {
    let found = match uuid::Uuid::parse_str(name) {
        Ok(id) => directory.get_user(id).await.ok(),
        Err(_) => directory
            .get_user_by_name(name)
            .await
            .map_err(|e| e.to_string())?,
    };
    found.ok_or_else(|| format!("no user {name}"))
}

/// The one of `banned` (of a `kind`, users or groups) that `name` names
/// by its name or id.
fn the_banned<T>(
    banned: Vec<T>,
    kind: &str,
    name: &str,
    key: impl Fn(&T) -> (uuid::Uuid, &str),
) -> Result<T, String> {
    let mut matching: Vec<T> = banned
        .into_iter()
        .filter(|r| {
            let (id, n) = key(r);
            id.to_string() == name || n.eq_ignore_ascii_case(name)
        })
        .collect();
    match matching.len() {
        0 => Err(format!("no banned {kind} {name}")),
        1 => Ok(matching.remove(0)),
        n => Err(format!(
            "{n} banned {kind}s were called {name}: name one by its id (roster {kind} list --banned)"
        )),
    }
}

/// The one banned user named by userName or id.
async fn banned_user(directory: &Directory, name: &str) -> Result<User, String> {
    let banned = directory.banned_users().await.map_err(|e| e.to_string())?;
    the_banned(banned, "user", name, |u| (u.id, u.attrs.user_name.as_str()))
}

/// The one banned group named by name or id.
async fn banned_group(directory: &Directory, name: &str) -> Result<Group, String> {
    let banned = directory.banned_groups().await.map_err(|e| e.to_string())?;
    the_banned(banned, "group", name, |g| {
        (g.id, g.attrs.display_name.as_str())
    })
}

/// Prints groups as a table or JSON lines.
fn print_groups(groups: &[Group], json: bool, header: bool) {
    if header && !json {
        println!("{:<32} {:<36} MEMBERS", "NAME", "ID");
    }
    for g in groups {
        if json {
            let line = json!({
                "id": g.id, "displayName": g.attrs.display_name, "members": g.members.len(),
                "created": g.meta.created.rfc3339(), "createdBy": g.meta.created_by,
            });
            println!("{line}");
        } else {
            println!(
                "{:<32} {:<36} {}",
                g.attrs.display_name,
                g.id,
                g.members.len()
            );
        }
    }
}

/// Prints users as a table (with a header when `header`) or JSON lines.
fn print_users(users: &[User], json: bool, header: bool) {
    if header && !json {
        println!("{:<32} {:<9} {:<36} EMAIL", "USERNAME", "STATUS", "ID");
    }
    for u in users {
        let status = u.status.as_str();
        let email = u.attrs.primary_email().unwrap_or("");
        if json {
            let line = json!({
                "id": u.id, "userName": u.attrs.user_name, "status": status, "email": email,
                "displayName": u.attrs.display_name, "created": u.meta.created.rfc3339(),
                "createdBy": u.meta.created_by, "mfa": u.mfa_state().as_str(),
                "lastLogin": u.logins.last_success.map(|t| t.rfc3339()),
                "groups": u.groups.iter().map(|g| g.display_name.clone()).collect::<Vec<_>>(),
            });
            println!("{line}");
        } else {
            println!(
                "{:<32} {:<9} {:<36} {}",
                u.attrs.user_name, status, u.id, email
            );
        }
    }
}

/// The served users `filter` selects, by userName.
async fn served_users(directory: &Directory, filter: Filter<User>) -> Result<Vec<User>, String> {
    const PAGE: usize = 1000;
    let mut users = Vec::new();
    loop {
        let page = directory
            .find_users(&Query::new(filter.clone(), users.len(), PAGE))
            .await
            .map_err(|e| e.to_string())?;
        let n = page.items.len();
        users.extend(page.items);
        if n < PAGE || users.len() >= page.total {
            return Ok(users);
        }
    }
}

/// The attributes `--search` looks in.
const SEARCHED: [&str; 4] = [
    "userName",
    "name.givenName",
    "name.familyName",
    "emails.value",
];

/// userName, first name, last name or email contains `text`.
fn search_filter(text: &str) -> Filter<User> {
    use roster::directory::attributes::{by_key, USER_ATTRS};
    Filter::Or(
        SEARCHED
            .iter()
            .filter_map(|key| by_key(USER_ATTRS, key))
            .map(|def| {
                Filter::Compare(
                    def,
                    roster::directory::Op::Co,
                    roster::directory::Value::Str(text.into()),
                )
            })
            .collect(),
    )
}

/// The same test as [`search_filter`], on a user in hand (banned users are
/// not searched by the store).
fn matches_search(user: &User, text: &str) -> bool {
    let text = text.to_lowercase();
    let a = &user.attrs;
    std::iter::once(Some(a.user_name.as_str()))
        .chain([a.name.given_name.as_deref(), a.name.family_name.as_deref()])
        .chain(a.emails.iter().map(|e| Some(e.value.as_str())))
        .flatten()
        .any(|v| v.to_lowercase().contains(&text))
}

/// A served group named by name or id.
async fn served_group(directory: &Directory, name: &str) -> Result<Group, String> {
    if let Ok(id) = uuid::Uuid::parse_str(name) {
        return directory.get_group(id).await.map_err(|e| e.to_string());
    }
    use roster::directory::attributes::{by_key, GROUP_ATTRS};
    let def = by_key(GROUP_ATTRS, "displayName").ok_or("no displayName attribute")?;
    let filter = Filter::Compare(
        def,
        roster::directory::Op::Eq,
        roster::directory::Value::Str(name.into()),
    );
    let page = directory
        .find_groups(&Query::new(filter, 0, 1), true)
        .await
        .map_err(|e| e.to_string())?;
    page.items
        .into_iter()
        .next()
        .ok_or_else(|| format!("no group {name}"))
}

fn show_user(directory: &Directory, user: &User, json: bool) {
    let mut resource = roster::scim::resources::user_to_json(user, "", directory);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resource).unwrap_or_default()
        );
        return;
    }
    let a = &user.attrs;
    let time =
        |t: Option<roster::directory::Timestamp>| t.map_or("never".to_string(), |t| t.rfc3339());
    let mut lines: Vec<(&str, String)> = vec![
        ("userName", a.user_name.clone()),
        ("id", user.id.to_string()),
        ("status", user.status.as_str().to_string()),
        ("displayName", a.display_name.clone().unwrap_or_default()),
        (
            "name",
            [a.name.given_name.as_deref(), a.name.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "emails",
            a.emails
                .iter()
                .map(|e| e.value.clone())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "groups",
            user.groups
                .iter()
                .map(|g| g.display_name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "mfa",
            format!(
                "{} [{}]",
                user.mfa_state().as_str(),
                user.mfa_methods().join(", ")
            ),
        ),
        ("lastLogin", time(user.logins.last_success)),
        ("failedLogins", user.logins.failed.to_string()),
        ("passwordChangedAt", time(user.password_changed)),
        (
            "passwordExpiresAt",
            time(directory.policy().password_expires(user)),
        ),
        (
            "created",
            format!(
                "{} by {}",
                user.meta.created.rfc3339(),
                user.meta.created_by
            ),
        ),
        (
            "modified",
            format!(
                "{} by {}",
                user.meta.modified.rfc3339(),
                user.meta.modified_by
            ),
        ),
    ];
    // The rest of the resource, as SCIM has it.
    if let Some(map) = resource.as_object_mut() {
        for key in [
            "schemas",
            "id",
            "userName",
            "displayName",
            "name",
            "emails",
            "groups",
            "meta",
            "active",
            roster::directory::attributes::ACCOUNT_USER_URN,
        ] {
            map.remove(key);
        }
        for (key, value) in map.iter() {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            lines.push((key.as_str(), text));
        }
        for (key, value) in lines {
            if !value.is_empty() {
                println!("{key:<18} {value}");
            }
        }
    }
}

fn show_group(directory: &Directory, group: &Group, json: bool) {
    if json {
        let resource =
            roster::scim::resources::group_to_json(group, "", true, directory.declared());
        println!(
            "{}",
            serde_json::to_string_pretty(&resource).unwrap_or_default()
        );
        return;
    }
    println!("{:<10} {}", "name", group.attrs.display_name);
    println!("{:<10} {}", "id", group.id);
    println!(
        "{:<10} {} by {}",
        "created",
        group.meta.created.rfc3339(),
        group.meta.created_by
    );
    println!(
        "{:<10} {} by {}",
        "modified",
        group.meta.modified.rfc3339(),
        group.meta.modified_by
    );
    println!("{:<10} {}", "members", group.members.len());
    for m in &group.members {
        println!(
            "  {} {}",
            m.kind.as_str(),
            m.display.as_deref().unwrap_or(&m.name)
        );
    }
}

/// Imports a CSV or JSON-lines file of users, with a progress bar on a
/// terminal and a summary line.
async fn import_table(
    directory: &Directory,
    file: &Path,
    format: Format,
    dry_run: bool,
) -> Result<(), String> {
    let read =
        |file: &Path| std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()));
    let rows = match format {
        Format::Csv => roster::transfer::users::read_csv(&read(file)?, directory.declared()),
        Format::Spreadsheet => {
            roster::transfer::users::read_spreadsheet(file, directory.declared())
        }
        _ => Ok(roster::transfer::users::read_json_lines(&read(file)?)),
    }
    .map_err(|e| format!("{}: {e}", file.display()))?;
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed}")
            .map_err(|e| e.to_string())?,
    );
    let started = std::time::Instant::now();
    let summary =
        roster::transfer::users::import(directory, &Actor::cli(), rows, dry_run, &|| bar.inc(1))
            .await;
    bar.finish_and_clear();
    report_summary(file, "users", &summary, dry_run, Some(started))
}

/// Prints an import's bad rows and its summary line; an error when a row
/// failed.
fn report_summary(
    file: &Path,
    what: &str,
    summary: &roster::transfer::users::Summary,
    dry_run: bool,
    started: Option<std::time::Instant>,
) -> Result<(), String> {
    for (line, why) in &summary.failed {
        eprintln!("line {line}: {why}");
    }
    let verb = if dry_run { "would be" } else { "were" };
    let took = started.map_or(String::new(), |s| {
        format!(" ({:.1} s)", s.elapsed().as_secs_f64())
    });
    let dry = if dry_run {
        "; nothing was written (dry run)"
    } else {
        ""
    };
    println!(
        "{}: {} {what} {verb} created, {} updated, {} unchanged; {} rows failed{took}{dry}",
        file.display(),
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.failed.len(),
    );
    match summary.failed.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "{} rows could not be imported",
            summary.failed.len()
        )),
    }
}

async fn import(directory: &Directory, config: &Config, file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let base = roster::ldap::dn::Dn::parse(&config.base_dn).map_err(|e| e.to_string())?;
    let tree = roster::ldap::tree::Tree::new(base).with_attributes(directory.attributes());
    let report = roster::transfer::import_ldif(directory, &Actor::cli(), &tree, &text)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    for (line, why) in &report.skipped {
        eprintln!("skipped (line {line}): {why}");
    }
    for (line, why) in &report.failed {
        eprintln!("failed (line {line}): {why}");
    }
    println!(
        "imported {} users, {} groups, {} memberships; {} entries skipped, {} failed",
        report.users,
        report.groups,
        report.memberships,
        report.skipped.len(),
        report.failed.len()
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} entries could not be imported",
            report.failed.len()
        ))
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let serve_args = match &cli.command {
        Command::Serve(args) => Some(args),
        _ => None,
    };
    let config = Config::load(
        cli.store.config.as_deref(),
        overrides(&cli.store, serve_args),
    )?;
    if let Command::Serve(_) = cli.command {
        return serve(config).await;
    }
    if let Command::Cert(CertCommand::Dev { out }) = &cli.command {
        roster::tls::dev_certificates(out)?;
        println!(
            "wrote {0}/ca.pem, {0}/server.pem and {0}/server.key (development only)",
            out.display()
        );
        return Ok(());
    }
    let directory = open_directory(&config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve(_) | Command::Cert(_) => unreachable!("handled above"),
        Command::Token(TokenCommand::Create { name, scope }) => {
            let scope = TokenScope::parse(&scope).ok_or("unknown scope")?;
            let token = directory
                .create_token(&Actor::cli(), &name, scope)
                .await
                .map_err(|e| e.to_string())?;
            println!("{token}");
        }
        Command::User(UserCommand::List {
            json,
            banned,
            search,
            status,
        }) => {
            let status = match status.as_deref() {
                None => None,
                Some(s) => Some(roster::directory::Status::parse(s).ok_or(format!(
                    "unknown status {s}: active, disabled, locked or inactive"
                ))?),
            };
            let filter = match &search {
                Some(text) => search_filter(text),
                None => Filter::True,
            };
            let users = match banned {
                true => directory.banned_users().await.map_err(|e| e.to_string())?,
                false => served_users(&directory, filter).await?,
            };
            let users: Vec<User> = users
                .into_iter()
                .filter(|u| status.is_none_or(|s| u.status == s))
                .filter(|u| !banned || search.as_deref().is_none_or(|t| matches_search(u, t)))
                .collect();
            print_users(&users, json, true);
        }
        Command::User(UserCommand::Show { name, json }) => {
            let user = served_user(&directory, &name).await?;
            show_user(&directory, &user, json);
        }
        Command::Group(GroupCommand::Show { name, json }) => {
            let group = served_group(&directory, &name).await?;
            show_group(&directory, &group, json);
        }
        Command::User(UserCommand::Activate { name }) => {
            let user = served_user(&directory, &name).await?;
            directory
                .activate_user(&Actor::cli(), user.id)
                .await
                .map_err(|e| e.to_string())?;
            println!("{} is active", user.attrs.user_name);
        }
        Command::User(UserCommand::ResetPassword { name, .. }) => {
            let user = served_user(&directory, &name).await?;
            let password = directory
                .reset_password(&Actor::cli(), user.id)
                .await
                .map_err(|e| e.to_string())?;
            println!("{password}");
        }
        Command::User(UserCommand::Restore { name }) => {
            let user = banned_user(&directory, &name).await?;
            directory
                .restore_user(&Actor::cli(), &user)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{} is restored (disabled until activated)",
                user.attrs.user_name
            );
        }
        Command::User(UserCommand::Purge { name }) => {
            let user = banned_user(&directory, &name).await?;
            directory
                .purge_user(&Actor::cli(), &user)
                .await
                .map_err(|e| e.to_string())?;
            println!("{} ({}) is purged", user.attrs.user_name, user.id);
        }
        Command::User(UserCommand::Invite { name }) => {
            let user = served_user(&directory, &name).await?;
            let token = directory
                .invite(&Actor::cli(), user.id)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}/self-service/set-password#{token}",
                config.http.public_url()
            );
        }
        Command::User(UserCommand::Mfa { action, name }) => {
            let user = served_user(&directory, &name).await?;
            let actor = Actor::cli();
            let done = match action {
                MfaAction::Require => directory.require_mfa(&actor, user.id, true).await,
                MfaAction::Reset => directory.reset_mfa(&actor, user.id).await,
                MfaAction::Disable => directory.require_mfa(&actor, user.id, false).await,
            }
            .map_err(|e| e.to_string())?;
            println!(
                "{}: MFA {}",
                done.attrs.user_name,
                done.mfa_state().as_str()
            );
        }
        Command::Group(GroupCommand::List { json, banned }) => {
            let groups = match banned {
                true => directory.banned_groups().await,
                false => directory
                    .find_groups(&Query::new(Filter::True, 0, i64::MAX as usize), true)
                    .await
                    .map(|page| page.items),
            }
            .map_err(|e| e.to_string())?;
            print_groups(&groups, json, true);
        }
        Command::Group(GroupCommand::Restore { name }) => {
            let group = banned_group(&directory, &name).await?;
            directory
                .restore_group(&Actor::cli(), &group)
                .await
                .map_err(|e| e.to_string())?;
            println!("{} is restored", group.attrs.display_name);
        }
        Command::Group(GroupCommand::Purge { name }) => {
            let group = banned_group(&directory, &name).await?;
            directory
                .purge_group(&Actor::cli(), &group)
                .await
                .map_err(|e| e.to_string())?;
            println!("{} ({}) is purged", group.attrs.display_name, group.id);
        }
        Command::Import(ImportCommand::Users {
            file,
            format,
            dry_run,
        }) => {
            let format = match format {
                Some(f) => Format::parse(&f).ok_or(format!("unknown format {f}"))?,
                None => Format::of_path(&file).ok_or(
                    "say the file's format with --format csv|json|ldif (its name does not)",
                )?,
            };
            match format {
                Format::Ldif if dry_run => return Err("--dry-run is for CSV and JSON".into()),
                Format::Ldif => import(&directory, &config, &file).await?,
                _ => import_table(&directory, &file, format, dry_run).await?,
            }
        }
        Command::Import(ImportCommand::Groups { file, dry_run }) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let summary =
                roster::transfer::groups::import(&directory, &Actor::cli(), &text, dry_run).await;
            report_summary(&file, "groups", &summary, dry_run, None)?;
        }
        Command::Export(ExportCommand::Groups) => {
            let groups = directory
                .find_groups(&Query::new(Filter::True, 0, i64::MAX as usize), true)
                .await
                .map_err(|e| e.to_string())?
                .items;
            print!(
                "{}",
                roster::transfer::groups::write_json_lines(&directory, &groups)
            );
        }
        Command::Export(ExportCommand::Users { format }) => {
            let users = roster::transfer::users::all_users(&directory)
                .await
                .map_err(|e| e.to_string())?;
            let text = match Format::parse(&format) {
                Some(Format::Csv) => {
                    roster::transfer::users::write_csv(&users, directory.declared())?
                }
                Some(Format::JsonLines) => {
                    roster::transfer::users::write_json_lines(&directory, &users)
                }
                Some(Format::Ldif) => {
                    let base =
                        roster::ldap::dn::Dn::parse(&config.base_dn).map_err(|e| e.to_string())?;
                    let tree =
                        roster::ldap::tree::Tree::new(base).with_attributes(directory.attributes());
                    roster::transfer::write_users_ldif(&tree, &users)
                }
                Some(Format::Spreadsheet) | None => {
                    return Err(format!(
                        "cannot export users as {format}: csv, json or ldif"
                    ))
                }
            };
            print!("{text}");
        }
        Command::Audit {
            limit,
            json,
            user,
            since,
        } => {
            let since = match since {
                Some(text) => Some(since_time(&directory, &text)?),
                None => None,
            };
            let events = directory
                .audit(user.as_deref(), since, limit)
                .await
                .map_err(|e| e.to_string())?;
            for e in events {
                if json {
                    let line = json!({
                        "at": e.at.rfc3339(), "actor": e.actor, "protocol": e.protocol, "client": e.client,
                        "action": e.action, "target": e.target_kind, "id": e.target_id, "name": e.target_name,
                        "attributes": e.attributes,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{} {:<14} {:<6} {:<24} {} [{}]",
                        e.at.rfc3339(),
                        e.action,
                        e.protocol,
                        e.actor,
                        e.target_name,
                        e.attributes.join(",")
                    );
                }
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster: {e}");
            ExitCode::FAILURE
        }
    }
}
