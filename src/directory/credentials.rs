//! A user's credentials as the directory sets them: new passwords under the
//! quality policy and the history, generated passwords, resets, rehashing
//! of imported hashes, and the TOTP second factor — enrolment by the user,
//! reset and requirement by an administrator.

use uuid::Uuid;

use super::quality::{Broken, Rejection};
use super::{
    password, token, totp, validate, Actor, AuditEvent, Directory, DirectoryError, Meta,
    NewPassword, Protocol, User, UserAttrs,
};

type Result<T> = std::result::Result<T, DirectoryError>;

/// What a user needs to add Roster to an authenticator app.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The secret, base32 (for typing in by hand).
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The QR code, an SVG image.
    pub qr_svg: String,
}

impl Directory {
    /// Checks a new password against the quality rules and, for an
    /// existing user `id`, the history; every rule broken is named.
    pub async fn check_password(
        &self,
        password: &str,
        attrs: &UserAttrs,
        id: Option<Uuid>,
    ) -> Result<()> {
        validate::password(password)?;
        let emails = attrs.emails.iter().map(|e| e.value.as_str());
        let mut broken = self.quality.check(password, &attrs.user_name, emails);
        if let Some(id) = id {
            if self.in_history(id, password).await? {
                broken.push(Broken::InHistory(self.quality.history));
            }
        }
        match broken.is_empty() {
            true => Ok(()),
            false => Err(DirectoryError::PasswordRejected(Rejection(broken))),
        }
    }

    /// Whether `password` is the current one of user `id` or one of the
    /// earlier ones the history keeps (checked on the hashing threads at
    /// once).
    async fn in_history(&self, id: Uuid, password: &str) -> Result<bool> {
        let hashes = self
            .store
            .password_history(id, self.quality.history)
            .await?;
        let checks = hashes
            .iter()
            .map(|h| self.hasher.verify(password, Some(h.as_str())));
        Ok(futures::future::join_all(checks).await.iter().any(|v| v.ok))
    }

    /// Checks and hashes a new password, if there is one. Over SCIM a value
    /// written as a hash of a scheme Roster verifies (`{SSHA}…`,
    /// `{CRYPT}$6$…`, `$argon2id$…`) is an imported hash, kept as it is
    /// (as 389-ds and OpenLDAP take pre-hashed passwords): the migration
    /// path from another directory through a SCIM client.
    pub(super) async fn hash_new_password(
        &self,
        actor: &Actor,
        password: &NewPassword,
        attrs: &UserAttrs,
        id: Option<Uuid>,
    ) -> Result<Option<String>> {
        match password {
            Some(p) if actor.protocol == Protocol::Scim && password::names_a_scheme(p) => {
                match password::is_verifiable(p) {
                    true => Ok(Some(p.clone())),
                    false => Err(DirectoryError::invalid(
                        "password",
                        "is written as a hash ({SCHEME}…) but is not one Roster verifies",
                    )),
                }
            }
            Some(p) => {
                self.check_password(p, attrs, id).await?;
                Ok(Some(self.hasher.hash(p).await?))
            }
            None => Ok(None),
        }
    }

    /// Hashes a password already in use elsewhere (a cleartext value in a
    /// directory export) for `import_user`: like an imported hash, it is
    /// not held to the quality rules, which apply to passwords set here.
    pub async fn hash_existing_password(&self, password: &str) -> Result<String> {
        validate::password(password)?;
        self.hasher.hash(password).await
    }

    /// A new random password that meets the quality rules for `attrs`: at
    /// least 20 characters (120 bits) from a 64-symbol alphabet, longer
    /// when `password.min_length` asks for more.
    pub fn generate_password(&self, attrs: &UserAttrs) -> String {
        let length = self.quality.min_length().max(20);
        let emails = attrs.emails.iter().map(|e| e.value.as_str());
        let emails: Vec<&str> = emails.collect();
        loop {
            let candidate = token::random_text(length.div_ceil(4) * 3);
            if self
                .quality
                .check(&candidate, &attrs.user_name, emails.iter().copied())
                .is_empty()
            {
                return candidate;
            }
        }
    }

    /// Replaces an imported hash of a weaker scheme with argon2id, now that
    /// the password is known. A failure leaves the old hash, which still
    /// verifies.
    pub(super) async fn rehash(&self, user: &User, password: &str) {
        let hash = match self.hasher.hash(password).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "could not rehash an imported password");
                return;
            }
        };
        let event = AuditEvent::new(
            self.now(),
            &Actor::new("roster", Protocol::System, None),
            "user.password.rehash",
            "user",
            user.id,
            &user.attrs.user_name,
            vec!["password".into()],
        );
        if let Err(e) = self.store.set_password(user.id, &hash, None, &event).await {
            tracing::warn!(error = %e, "could not store a rehashed password");
        }
    }

    /// Sets a user's password: their own change (which satisfies a reset),
    /// or with `reset` one an operator sets for them, which must be changed
    /// at the next login when `password.must_change_after_reset`.
    pub async fn set_password(
        &self,
        actor: &Actor,
        id: Uuid,
        password: &str,
        reset: bool,
    ) -> Result<()> {
        let user = self.get_user(id).await?;
        self.check_password(password, &user.attrs, Some(id)).await?;
        self.store_checked_password(actor, user, password, reset)
            .await
    }

    /// Hashes and stores a password already held to the policy (with
    /// `reset`, one an operator set), clearing or setting the forced change.
    async fn store_checked_password(
        &self,
        actor: &Actor,
        user: User,
        password: &str,
        reset: bool,
    ) -> Result<()> {
        let id = user.id;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let must_change = reset && self.must_change_after_reset;
        let (action, flag) = match (reset, must_change) {
            (true, true) => ("user.password.reset", Some(true)),
            (true, false) => (
                "user.password.reset",
                user.attrs.account.must_change_password,
            ),
            (false, _) => (
                "user.password.change",
                user.attrs.account.must_change_password.map(|_| false),
            ),
        };
        let mut changed = vec!["password".to_string()];
        if flag != user.attrs.account.must_change_password {
            changed.push("mustChangePassword".into());
        }
        let event = AuditEvent::new(
            now,
            actor,
            action,
            "user",
            id,
            &user.attrs.user_name,
            changed,
        );
        if flag == user.attrs.account.must_change_password {
            // The record is not otherwise touched.
            self.store
                .set_password(id, &hash, Some(now), &event)
                .await?;
            return Ok(());
        }
        let mut attrs = user.attrs.clone();
        attrs.account.must_change_password = flag;
        let updated = User {
            attrs,
            meta: Meta {
                modified: now,
                version: user.meta.version + 1,
                modified_by: actor.reference(),
                ..user.meta.clone()
            },
            password_changed: Some(now),
            ..user
        };
        self.store
            .update_user(
                &updated,
                updated.meta.version - 1,
                Some(&hash),
                false,
                &event,
            )
            .await?;
        Ok(())
    }

    /// Sets a generated password for a user (the CLI's `user
    /// reset-password`) and returns it, to be shown once.
    pub async fn reset_password(&self, actor: &Actor, id: Uuid) -> Result<String> {
        let user = self.get_user(id).await?;
        let password = self.generate_password(&user.attrs);
        self.set_password(actor, id, &password, true).await?;
        Ok(password)
    }

    // ----- set-password links -----

    /// Makes a one-time set-password link's token for user `id` (the CLI's
    /// `user invite`), valid for `password.invite_valid_for`; only its hash
    /// is stored.
    pub async fn invite(&self, actor: &Actor, id: Uuid) -> Result<String> {
        let user = self.get_user(id).await?;
        let token = token::random_text(32);
        let valid = self.invite_valid_for.as_millis() as i64;
        let expires = super::Timestamp(self.now().0.saturating_add(valid));
        let event = self.user_event(actor, "user.invite", &user, &[]);
        self.store
            .insert_invite(id, &token::digest_hex(&token), expires, &event)
            .await?;
        Ok(token)
    }

    /// The user a set-password link is for, while it is usable.
    pub async fn invited_user(&self, token: &str) -> Result<User> {
        let id = self
            .store
            .invite_user(&token::digest_hex(token), self.now(), false)
            .await?
            .ok_or_else(invalid_link)?;
        self.get_user(id).await
    }

    /// Sets the password a user chose through their set-password link,
    /// which is then used up. Their own choice: it need not be changed
    /// again. A password the policy rejects leaves the link usable.
    pub async fn set_password_by_invite(
        &self,
        actor: &Actor,
        token: &str,
        password: &str,
    ) -> Result<User> {
        let user = self.invited_user(token).await?;
        self.check_password(password, &user.attrs, Some(user.id))
            .await?;
        self.store
            .invite_user(&token::digest_hex(token), self.now(), true)
            .await?
            .ok_or_else(invalid_link)?;
        let id = user.id;
        self.store_checked_password(actor, user, password, false)
            .await?;
        self.get_user(id).await
    }

    // ----- TOTP -----

    /// Starts a user's TOTP enrolment: a new secret awaiting confirmation,
    /// returned with its URI and QR code. The user authenticates as for a
    /// login (with their current code too when they already have one), but
    /// a required factor not yet enrolled does not stop them here.
    pub async fn start_totp(
        &self,
        actor: &Actor,
        user_name: &str,
        presented: &str,
    ) -> Result<Enrolment> {
        let login = self
            .log_in(actor, user_name, presented, super::Purpose::Enrol)
            .await?;
        let user = login.user;
        let secret = totp::new_secret();
        let account = &user.attrs.user_name;
        let internal = || DirectoryError::Internal("could not encode the TOTP secret".into());
        let uri = totp::uri(&secret, &self.mfa.issuer, account).ok_or_else(internal)?;
        let qr_svg = totp::qr_svg(&uri).ok_or_else(internal)?;
        let event = self.user_event(actor, "user.mfa.start", &user, &["mfa"]);
        self.store.start_totp(user.id, &secret, &event).await?;
        Ok(Enrolment {
            secret,
            uri,
            qr_svg,
        })
    }

    /// Confirms an enrolment with a code of the new secret: from now on
    /// the user logs in with password and code (state `requiredActive`
    /// when MFA is required of them).
    pub async fn confirm_totp(
        &self,
        actor: &Actor,
        user_name: &str,
        presented: &str,
        code: &str,
    ) -> Result<User> {
        let user = self
            .log_in(actor, user_name, presented, super::Purpose::Enrol)
            .await?
            .user;
        let secrets = self.store.totp_secrets(user.id).await?;
        let Some(pending) = secrets.pending else {
            return Err(DirectoryError::Conflict(
                "no TOTP enrolment is in progress: start one first".into(),
            ));
        };
        let Some(step) = totp::matching_step(&pending, code, self.now()) else {
            return Err(DirectoryError::invalid(
                "code",
                "is not the current code of the new authenticator",
            ));
        };
        let event = self.user_event(actor, "user.mfa.enrol", &user, &["mfa"]);
        self.store
            .confirm_totp(user.id, step, &event)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("user {}", user.id)))
    }

    /// Removes a user's TOTP (an administrator's reset): a user who must
    /// use MFA is back to `requiredPending` and enrols again.
    pub async fn reset_mfa(&self, actor: &Actor, id: Uuid) -> Result<User> {
        let user = self.get_user(id).await?;
        let event = self.user_event(actor, "user.mfa.reset", &user, &["mfa"]);
        self.store
            .remove_totp(id, &event)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("user {id}")))
    }

    /// Requires MFA of a user, or (`false`) lifts the requirement and
    /// removes their factor: MFA disabled.
    pub async fn require_mfa(&self, actor: &Actor, id: Uuid, required: bool) -> Result<User> {
        let current = self.get_user(id).await?;
        let mut attrs = current.attrs.clone();
        attrs.account.mfa_required = Some(required);
        let user = self
            .replace_user(
                actor,
                id,
                super::UserChange {
                    attrs,
                    active: None,
                    password: None,
                    expected_version: Some(current.meta.version),
                    keep_posix: true,
                },
            )
            .await?;
        match (required, user.logins.totp_enrolled) {
            (false, Some(_)) => {
                let event = self.user_event(actor, "user.mfa.disable", &user, &["mfa"]);
                self.store
                    .remove_totp(id, &event)
                    .await?
                    .ok_or_else(|| DirectoryError::NotFound(format!("user {id}")))
            }
            _ => Ok(user),
        }
    }

    /// Checks the code a login presented for an enrolled user and uses its
    /// time step, once: a replayed code fails.
    pub(super) async fn second_factor(&self, user: &User, code: Option<&str>) -> Result<bool> {
        let Some(code) = code else { return Ok(false) };
        let Some(secret) = self.store.totp_secrets(user.id).await?.confirmed else {
            return Ok(false);
        };
        match totp::matching_step(&secret, code, self.now()) {
            Some(step) => Ok(self.store.use_totp_step(user.id, step).await?),
            None => Ok(false),
        }
    }

    /// An audit event about `user`, now.
    pub(super) fn user_event(
        &self,
        actor: &Actor,
        action: &str,
        user: &User,
        attributes: &[&str],
    ) -> AuditEvent {
        AuditEvent::new(
            self.now(),
            actor,
            action,
            "user",
            user.id,
            &user.attrs.user_name,
            attributes.iter().map(|a| a.to_string()).collect(),
        )
    }
}

fn invalid_link() -> DirectoryError {
    DirectoryError::Conflict("this link is not valid: it was used, or it expired".into())
}

/// Splits what a login presented into the password and, for a user with
/// TOTP, the 6-digit code appended to it (as FreeIPA takes them).
pub(super) fn split_code(presented: &str, enrolled: bool) -> (&str, Option<&str>) {
    let digits = totp::DIGITS;
    if !enrolled || presented.len() <= digits {
        return (presented, None);
    }
    let at = presented.len() - digits;
    if !presented.as_bytes()[at..].iter().all(u8::is_ascii_digit) {
        return (presented, None);
    }
    let (password, code) = presented.split_at(at);
    (password, Some(code))
}
