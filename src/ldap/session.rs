//! One LDAP connection's state and the operations on it: bind, search (in
//! `search`), compare, the extended operations (whoami, password modify),
//! unbind. Requests are answered in order.

use std::sync::Arc;

use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapBindResponse, LdapCompareRequest, LdapExtendedRequest,
    LdapExtendedResponse, LdapFilter, LdapMsg, LdapOp, LdapPasswordModifyRequest,
    LdapPasswordModifyResponse, LdapResult, LdapResultCode,
};
use uuid::Uuid;

use super::controls;
use super::dn::Dn;
use super::entries::{self, OID_PASSWORD_MODIFY, OID_WHOAMI};
use super::filter;
use super::search::Paged;
use super::tree::{Place, Tree};
use super::LdapState;
use crate::directory::attributes::{by_key, GROUP_ATTRS, USER_ATTRS};
use crate::directory::{
    Actor, DirectoryError, Filter, Login, Op, Protocol, Query, User, Value, Warning,
};

/// What the connection loop does after an operation.
pub enum Outcome {
    /// Send these messages (possibly none) and read on.
    Reply(Vec<LdapMsg>),
    /// Say yes to StartTLS (message id given), then negotiate TLS.
    StartTls(i32),
    /// Close the connection.
    Close,
}

/// What a bound identity may read.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Members of the reader and administrator groups: every entry (never
    /// secrets).
    Everything,
    /// Anyone else: their own entry only.
    OwnEntry(Uuid),
}

/// The identity a connection has bound as.
#[derive(Debug, Clone)]
struct Bound {
    dn: String,
    user_name: String,
    access: Access,
    admin: bool,
    /// The password was reset and must be changed before anything else.
    must_change: bool,
}

/// What a user whose password must be changed may still do.
fn may_before_change(op: &LdapOp) -> bool {
    match op {
        LdapOp::BindRequest(_) | LdapOp::UnbindRequest | LdapOp::AbandonRequest(_) => true,
        LdapOp::ExtendedRequest(req) => {
            req.name == OID_PASSWORD_MODIFY || req.name == super::OID_STARTTLS
        }
        _ => false,
    }
}

/// Answers a request with `res` in its operation's response type, without
/// carrying it out.
fn refuse(id: i32, op: &LdapOp, res: LdapResult) -> Outcome {
    match op {
        LdapOp::SearchRequest(_) => reply(id, LdapOp::SearchResultDone(res)),
        LdapOp::BindRequest(_) => reply(
            id,
            LdapOp::BindResponse(LdapBindResponse {
                res,
                saslcreds: None,
            }),
        ),
        LdapOp::CompareRequest(_) => reply(id, LdapOp::CompareResult(res)),
        LdapOp::AddRequest(_) => reply(id, LdapOp::AddResponse(res)),
        LdapOp::ModifyRequest(_) => reply(id, LdapOp::ModifyResponse(res)),
        LdapOp::DelRequest(_) => reply(id, LdapOp::DelResponse(res)),
        LdapOp::ModifyDNRequest(_) => reply(id, LdapOp::ModifyDNResponse(res)),
        LdapOp::UnbindRequest => Outcome::Close,
        LdapOp::AbandonRequest(_) => Outcome::Reply(Vec::new()),
        _ => reply(
            id,
            LdapOp::ExtendedResponse(LdapExtendedResponse {
                res,
                name: None,
                value: None,
            }),
        ),
    }
}

/// One connection's state.
pub struct Session {
    pub(super) state: Arc<LdapState>,
    bound: Option<Bound>,
    /// What the password policy control tells about the last bind.
    bind_policy: (Option<Warning>, Option<controls::PpolicyError>),
    /// The password policy error of the last Password Modify.
    modify_policy: Option<controls::PpolicyError>,
    /// The client's address, for the audit trail.
    client: Option<String>,
    /// Paged searches in progress.
    pub(super) paged: Vec<Paged>,
    /// Whether the connection runs over TLS (LDAPS, or after StartTLS).
    pub secure: bool,
}

pub(super) fn result(code: LdapResultCode, matched: &str, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: matched.to_string(),
        message: message.to_string(),
        referral: Vec::new(),
    }
}

fn reply(msgid: i32, op: LdapOp) -> Outcome {
    Outcome::Reply(vec![LdapMsg::new(msgid, op)])
}

pub(super) fn internal(e: DirectoryError) -> LdapResult {
    tracing::error!(error = %e, "LDAP operation failed");
    result(LdapResultCode::OperationsError, "", "internal error")
}

fn extended_error(code: LdapResultCode, message: &str) -> LdapExtendedResponse {
    LdapExtendedResponse {
        res: result(code, "", message),
        name: None,
        value: None,
    }
}

impl Session {
    pub fn new(state: Arc<LdapState>, client: Option<String>) -> Session {
        Session {
            state,
            bound: None,
            bind_policy: (None, None),
            modify_policy: None,
            client,
            paged: Vec::new(),
            secure: false,
        }
    }

    pub(super) fn tree(&self) -> &Tree {
        &self.state.tree
    }

    /// What the connection may read; `None` before a bind.
    pub(super) fn access(&self) -> Option<Access> {
        self.bound.as_ref().map(|b| b.access.clone())
    }

    /// Handles one request.
    pub async fn handle(&mut self, msg: LdapMsg) -> Outcome {
        let id = msg.msgid;
        let requested = match controls::read(&msg.ctrl) {
            Ok(r) => r,
            Err(oid) => {
                let res = result(
                    LdapResultCode::UnavailableCriticalExtension,
                    "",
                    &format!("critical control {oid} is not supported"),
                );
                return refuse(id, &msg.op, res);
            }
        };
        // A user whose password must be changed may change it, and nothing
        // else, until then (draft-behera: changeAfterReset).
        if self.bound.as_ref().is_some_and(|b| b.must_change) && !may_before_change(&msg.op) {
            let res = result(
                LdapResultCode::InsufficentAccessRights,
                "",
                "the password must be changed first (Password Modify, RFC 3062)",
            );
            return refuse(id, &msg.op, res);
        }
        match msg.op {
            LdapOp::BindRequest(req) => {
                let dn = req.dn.clone();
                let res = self.bind(req).await;
                tracing::debug!(%dn, code = ?res.code, secure = self.secure, "bind");
                let mut msg = LdapMsg::new(
                    id,
                    LdapOp::BindResponse(LdapBindResponse {
                        res,
                        saslcreds: None,
                    }),
                );
                if requested.password_policy {
                    let (warning, error) = self.bind_policy;
                    let error = error.or_else(|| {
                        self.bound
                            .as_ref()
                            .is_some_and(|b| b.must_change)
                            .then_some(controls::PpolicyError::ChangeAfterReset)
                    });
                    msg.ctrl
                        .push(controls::password_policy_response(warning, error));
                }
                Outcome::Reply(vec![msg])
            }
            LdapOp::SearchRequest(req) => Outcome::Reply(self.search(id, &req, &requested).await),
            LdapOp::CompareRequest(req) => {
                reply(id, LdapOp::CompareResult(self.compare(&req).await))
            }
            LdapOp::ExtendedRequest(req) if req.name == super::OID_STARTTLS => self.start_tls(id),
            LdapOp::ExtendedRequest(req) => {
                self.modify_policy = None;
                let response = self.extended(&req).await;
                let mut msg = LdapMsg::new(id, LdapOp::ExtendedResponse(response));
                if requested.password_policy && req.name == OID_PASSWORD_MODIFY {
                    msg.ctrl
                        .push(controls::password_policy_response(None, self.modify_policy));
                }
                Outcome::Reply(vec![msg])
            }
            LdapOp::UnbindRequest => Outcome::Close,
            // Operations are answered in order, so there is nothing in
            // flight to abandon by the time this is read.
            LdapOp::AbandonRequest(_) => Outcome::Reply(Vec::new()),
            LdapOp::AddRequest(_) => reply(id, LdapOp::AddResponse(read_only())),
            LdapOp::ModifyRequest(_) => reply(id, LdapOp::ModifyResponse(read_only())),
            LdapOp::DelRequest(_) => reply(id, LdapOp::DelResponse(read_only())),
            LdapOp::ModifyDNRequest(_) => reply(id, LdapOp::ModifyDNResponse(read_only())),
            // A client sent a response: it is not speaking LDAP to us.
            _ => Outcome::Close,
        }
    }

    /// The user a bind names: a DN under `ou=people`, or, when configured,
    /// a bare userName or an email address.
    async fn bind_name(&self, name: &str) -> Result<Option<String>, DirectoryError> {
        if let Some(user) = self.tree().user_name(name) {
            return Ok(Some(user));
        }
        let forms = &self.state.config.bind_with;
        let allows = |f: &str| forms.iter().any(|x| x.eq_ignore_ascii_case(f));
        if name.contains('=') {
            return Ok(None);
        }
        if name.contains('@') && allows("mail") {
            let def = by_key(USER_ATTRS, "emails.value").expect("emails.value");
            let f = Filter::Compare(def, Op::Eq, Value::Str(name.to_string()));
            let page = self
                .state
                .directory
                .find_users(&Query::new(f, 0, 2))
                .await?;
            // An address two accounts share names neither.
            if page.items.len() == 1 {
                return Ok(Some(page.items[0].attrs.user_name.clone()));
            }
            return Ok(None);
        }
        Ok(allows("uid").then(|| name.to_string()))
    }

    /// StartTLS (RFC 4511 §4.14): yes once, when a certificate is set.
    fn start_tls(&mut self, id: i32) -> Outcome {
        let refuse = |code, message: &str| {
            reply(
                id,
                LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res: result(code, "", message),
                    name: Some(super::OID_STARTTLS.to_string()),
                    value: None,
                }),
            )
        };
        if self.secure {
            return refuse(
                LdapResultCode::OperationsError,
                "TLS is already established on this connection",
            );
        }
        if self.state.tls.is_none() {
            return refuse(
                LdapResultCode::Unavailable,
                "StartTLS is not available: the server has no certificate (tls.cert)",
            );
        }
        // Nothing of the plaintext session outlives the upgrade but the
        // bind, which stays.
        self.paged.clear();
        Outcome::StartTls(id)
    }

    async fn bind(&mut self, req: LdapBindRequest) -> LdapResult {
        self.bound = None;
        self.bind_policy = (None, None);
        self.paged.clear();
        if req.version != 3 {
            return result(
                LdapResultCode::ProtocolError,
                "",
                "only LDAP version 3 is supported",
            );
        }
        let password = match req.cred {
            LdapBindCred::Simple(p) => p,
            _ => {
                return result(
                    LdapResultCode::AuthMethodNotSupported,
                    "",
                    "only simple bind is supported",
                )
            }
        };
        if req.dn.is_empty() && password.is_empty() {
            return result(LdapResultCode::Success, "", "");
        }
        if !self.secure && self.state.binds_need_tls() {
            return result(
                LdapResultCode::ConfidentialityRequired,
                "",
                "simple binds need TLS here: use LDAPS or StartTLS first",
            );
        }
        if password.is_empty() {
            // RFC 4513 §5.1.2: an unauthenticated bind must not succeed.
            return result(
                LdapResultCode::UnwillingToPerform,
                "",
                "unauthenticated bind (DN without password) is not allowed",
            );
        }
        let directory = &self.state.directory;
        let actor = Actor::new(req.dn.clone(), Protocol::Ldap, self.client.clone());
        let outcome = match self.bind_name(&req.dn).await {
            Ok(Some(name)) => directory.authenticate(&actor, &name, &password).await,
            Ok(None) => Err(directory.reject_credentials(&actor, &password).await),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Login { user, warning }) => {
                self.bind_policy.0 = warning;
                let (access, admin) = self.roles(&user);
                self.bound = Some(Bound {
                    dn: self.tree().user_dn(&user.attrs.user_name).to_string(),
                    user_name: user.attrs.user_name.clone(),
                    access,
                    admin,
                    must_change: user.attrs.account.must_change(),
                });
                result(LdapResultCode::Success, "", "")
            }
            Err(DirectoryError::InvalidCredentials) => {
                result(LdapResultCode::InvalidCredentials, "", "")
            }
            Err(DirectoryError::PasswordExpired) => {
                // Only the password policy control tells (to whoever knew
                // the password); the result is a wrong password's.
                self.bind_policy.1 = Some(controls::PpolicyError::PasswordExpired);
                result(LdapResultCode::InvalidCredentials, "", "")
            }
            Err(DirectoryError::AccountLocked) => {
                self.bind_policy.1 = Some(controls::PpolicyError::AccountLocked);
                result(LdapResultCode::InvalidCredentials, "", "")
            }
            Err(e) => internal(e),
        }
    }

    /// What a user may read, and whether they administer the directory:
    /// members of the reader group read everything, members of the
    /// administrator group also change other users' passwords.
    fn roles(&self, user: &User) -> (Access, bool) {
        let config = &self.state.config;
        let member_of = |name: &str| {
            !name.is_empty()
                && user
                    .groups
                    .iter()
                    .any(|g| g.display_name.eq_ignore_ascii_case(name))
        };
        let admin = member_of(&config.admin_group);
        let reader = admin || member_of(&config.reader_group);
        let access = if reader {
            Access::Everything
        } else {
            Access::OwnEntry(user.id)
        };
        (access, admin)
    }

    /// Compare (RFC 4511 §4.10): whether an entry has an attribute value,
    /// under the same read rules as search. Secrets are never compared.
    async fn compare(&self, req: &LdapCompareRequest) -> LdapResult {
        let Some(access) = self.access() else {
            return result(
                LdapResultCode::InsufficentAccessRights,
                "",
                "bind first: anonymous clients may read only the root DSE",
            );
        };
        if entries::is_secret(&req.atype) {
            return result(
                LdapResultCode::InsufficentAccessRights,
                "",
                "secrets cannot be compared",
            );
        }
        let Ok(value) = String::from_utf8(req.val.clone()) else {
            return result(LdapResultCode::CompareFalse, "", "");
        };
        let item = LdapFilter::Equality(req.atype.clone(), value);
        let dn = match Dn::parse(&req.dn) {
            Ok(dn) => dn,
            Err(e) => {
                return result(
                    LdapResultCode::InvalidDNSyntax,
                    "",
                    &format!("invalid DN: {e}"),
                )
            }
        };
        let tree = self.tree();
        let directory = &self.state.directory;
        let found = match tree.place(&dn) {
            Err(matched) => return result(LdapResultCode::NoSuchObject, &matched.to_string(), ""),
            Ok(place @ (Place::Base | Place::People | Place::Groups)) => {
                if access != Access::Everything {
                    return result(LdapResultCode::NoSuchObject, "", "");
                }
                let (_, attrs) = entries::container_attrs(tree, &place);
                Some(filter::matches_static(&item, &entries::as_pairs(&attrs)))
            }
            Ok(Place::User(name)) => {
                let f = filter::for_users(tree, &item);
                if matches!(f, Filter::Undefined) {
                    None
                } else {
                    let Some(user) = directory.get_user_by_name(&name).await.ok().flatten() else {
                        return result(LdapResultCode::NoSuchObject, &tree.people.to_string(), "");
                    };
                    if matches!(access, Access::OwnEntry(me) if me != user.id) {
                        return result(LdapResultCode::NoSuchObject, &tree.people.to_string(), "");
                    }
                    let id = by_key(USER_ATTRS, "id").expect("id");
                    let q = Query::new(
                        f.and(Filter::Compare(id, Op::Eq, Value::Str(user.id.to_string()))),
                        0,
                        0,
                    );
                    match directory.find_users(&q).await {
                        Ok(p) => Some(p.total > 0),
                        Err(e) => return internal(e),
                    }
                }
            }
            Ok(Place::Group(name)) => {
                if access != Access::Everything {
                    return result(LdapResultCode::NoSuchObject, &tree.groups.to_string(), "");
                }
                let f = filter::for_groups(tree, &item);
                if matches!(f, Filter::Undefined) {
                    None
                } else {
                    let by_name = by_key(GROUP_ATTRS, "displayName").expect("displayName");
                    let exists = Filter::Compare(by_name, Op::Eq, Value::Str(name));
                    let all = directory
                        .find_groups(&Query::new(exists.clone(), 0, 0), false)
                        .await;
                    match all {
                        Ok(p) if p.total == 0 => {
                            return result(
                                LdapResultCode::NoSuchObject,
                                &tree.groups.to_string(),
                                "",
                            )
                        }
                        Err(e) => return internal(e),
                        _ => {}
                    }
                    match directory
                        .find_groups(&Query::new(f.and(exists), 0, 0), false)
                        .await
                    {
                        Ok(p) => Some(p.total > 0),
                        Err(e) => return internal(e),
                    }
                }
            }
        };
        match found {
            Some(true) => result(LdapResultCode::CompareTrue, "", ""),
            Some(false) => result(LdapResultCode::CompareFalse, "", ""),
            None => result(
                LdapResultCode::UndefinedAttributeType,
                "",
                &format!("{} is not an attribute Roster serves", req.atype),
            ),
        }
    }

    async fn extended(&mut self, req: &LdapExtendedRequest) -> LdapExtendedResponse {
        match req.name.as_str() {
            OID_WHOAMI => LdapExtendedResponse {
                res: result(LdapResultCode::Success, "", ""),
                name: None,
                value: Some(
                    self.bound
                        .as_ref()
                        .map(|b| format!("dn:{}", b.dn))
                        .unwrap_or_default()
                        .into_bytes(),
                ),
            },
            OID_PASSWORD_MODIFY => self.password_modify(req).await,
            other => extended_error(
                LdapResultCode::ProtocolError,
                &format!("extended operation {other} is not supported"),
            ),
        }
    }

    /// Password Modify (RFC 3062): a user changes their own password with
    /// the old one; an administrator sets anyone's; without a new password
    /// one is generated and returned.
    async fn password_modify(&mut self, req: &LdapExtendedRequest) -> LdapExtendedResponse {
        let Some(bound) = self.bound.clone() else {
            return extended_error(
                LdapResultCode::InsufficentAccessRights,
                "bind first to change a password",
            );
        };
        let request = match &req.value {
            None => LdapPasswordModifyRequest {
                user_identity: None,
                old_password: None,
                new_password: None,
            },
            Some(_) => match LdapPasswordModifyRequest::try_from(req) {
                Ok(r) => r,
                Err(_) => {
                    return extended_error(
                        LdapResultCode::ProtocolError,
                        "the password modify request is not valid BER",
                    )
                }
            },
        };
        let directory = &self.state.directory;
        // Whose password: the bound user's unless another is named.
        let target = match request.user_identity.as_deref().filter(|s| !s.is_empty()) {
            None => bound.user_name.clone(),
            Some(identity) => {
                let identity = identity.strip_prefix("dn:").unwrap_or(identity);
                let identity = identity.strip_prefix("u:").unwrap_or(identity);
                match self.bind_name(identity).await {
                    Ok(Some(name)) => name,
                    Ok(None) => {
                        return extended_error(
                            LdapResultCode::NoSuchObject,
                            "userIdentity names no user",
                        )
                    }
                    Err(e) => {
                        let r = internal(e);
                        return extended_error(r.code, &r.message);
                    }
                }
            }
        };
        let own = target.eq_ignore_ascii_case(&bound.user_name);
        if !own && !bound.admin {
            return extended_error(
                LdapResultCode::InsufficentAccessRights,
                "only administrators change other users' passwords",
            );
        }
        if own && !bound.admin {
            let Some(old) = &request.old_password else {
                return extended_error(
                    LdapResultCode::UnwillingToPerform,
                    "give the current password (oldPasswd) to change your own",
                );
            };
            let asking = Actor::new(bound.dn.clone(), Protocol::Ldap, self.client.clone());
            if directory.authenticate(&asking, &target, old).await.is_err() {
                return extended_error(LdapResultCode::InvalidCredentials, "");
            }
        }
        let user = match directory.get_user_by_name(&target).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                return extended_error(LdapResultCode::NoSuchObject, "userIdentity names no user")
            }
            Err(e) => {
                let r = internal(e);
                return extended_error(r.code, &r.message);
            }
        };
        let actor = Actor::new(bound.dn.clone(), Protocol::Ldap, self.client.clone());
        let generated = request.new_password.is_none();
        let new = match &request.new_password {
            Some(p) => p.clone(),
            None => directory.generate_password(&user.attrs),
        };
        // One's own change satisfies a reset; an administrator setting
        // someone else's is a reset.
        match directory.set_password(&actor, user.id, &new, !own).await {
            Ok(()) => {
                if own {
                    if let Some(b) = self.bound.as_mut() {
                        b.must_change = false;
                    }
                }
                LdapPasswordModifyResponse {
                    res: result(LdapResultCode::Success, "", ""),
                    gen_password: generated.then_some(new),
                }
                .into()
            }
            Err(DirectoryError::Invalid { detail, .. }) => {
                extended_error(LdapResultCode::ConstraintViolation, &detail)
            }
            Err(DirectoryError::PasswordRejected(rejection)) => {
                self.modify_policy = Some(controls::PpolicyError::of_rejection(&rejection));
                extended_error(LdapResultCode::ConstraintViolation, &rejection.to_string())
            }
            Err(e) => {
                let r = internal(e);
                extended_error(r.code, &r.message)
            }
        }
    }
}

/// The answer to add, modify, delete and rename: changes go through SCIM.
fn read_only() -> LdapResult {
    result(
        LdapResultCode::UnwillingToPerform,
        "",
        "the LDAP interface is read-only; change users and groups over SCIM",
    )
}
