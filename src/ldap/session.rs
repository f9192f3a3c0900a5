//! One LDAP connection's state and the operations on it: bind, search,
//! whoami, unbind. Requests are answered in order.

use std::sync::Arc;

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapBindResponse, LdapExtendedRequest, LdapExtendedResponse,
    LdapMsg, LdapOp, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry,
    LdapSearchScope,
};

use super::dn::Dn;
use super::entries::{self, Selection, OID_WHOAMI};
use super::filter;
use super::tree::{Place, Tree};
use super::LdapState;
use crate::directory::attributes::{by_key, GROUP_ATTRS, USER_ATTRS};
use crate::directory::{DirectoryError, Filter, Group, Op, Query, User, Value};

/// What the connection loop does after an operation.
pub enum Outcome {
    /// Send these messages (possibly none) and read on.
    Reply(Vec<LdapMsg>),
    /// Close the connection.
    Close,
}

/// The identity a connection has bound as.
#[derive(Debug, Clone)]
struct Bound {
    dn: String,
}

/// One connection's state.
pub struct Session {
    state: Arc<LdapState>,
    bound: Option<Bound>,
}

fn result(code: LdapResultCode, matched: &str, message: &str) -> LdapResult {
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

fn internal(e: DirectoryError) -> LdapResult {
    tracing::error!(error = %e, "LDAP operation failed");
    result(LdapResultCode::OperationsError, "", "internal error")
}

impl Session {
    pub fn new(state: Arc<LdapState>) -> Session {
        Session { state, bound: None }
    }

    fn tree(&self) -> &Tree {
        &self.state.tree
    }

    /// Handles one request.
    pub async fn handle(&mut self, msg: LdapMsg) -> Outcome {
        let id = msg.msgid;
        if let Some(oid) = msg.ctrl.iter().find_map(|c| match c {
            LdapControl::Unknown {
                oid,
                criticality: true,
                ..
            } => Some(oid.clone()),
            _ => None,
        }) {
            let res = result(
                LdapResultCode::UnavailableCriticalExtension,
                "",
                &format!("critical control {oid} is not supported"),
            );
            return match msg.op {
                LdapOp::SearchRequest(_) => reply(id, LdapOp::SearchResultDone(res)),
                LdapOp::BindRequest(_) => reply(
                    id,
                    LdapOp::BindResponse(LdapBindResponse {
                        res,
                        saslcreds: None,
                    }),
                ),
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
            };
        }
        match msg.op {
            LdapOp::BindRequest(req) => {
                let res = self.bind(req).await;
                reply(
                    id,
                    LdapOp::BindResponse(LdapBindResponse {
                        res,
                        saslcreds: None,
                    }),
                )
            }
            LdapOp::SearchRequest(req) => Outcome::Reply(self.search(id, &req).await),
            LdapOp::ExtendedRequest(req) => {
                reply(id, LdapOp::ExtendedResponse(self.extended(&req)))
            }
            LdapOp::UnbindRequest => Outcome::Close,
            LdapOp::AbandonRequest(_) => Outcome::Reply(Vec::new()),
            LdapOp::AddRequest(_) => reply(id, LdapOp::AddResponse(read_only())),
            LdapOp::ModifyRequest(_) => reply(id, LdapOp::ModifyResponse(read_only())),
            LdapOp::DelRequest(_) => reply(id, LdapOp::DelResponse(read_only())),
            LdapOp::ModifyDNRequest(_) => reply(id, LdapOp::ModifyDNResponse(read_only())),
            LdapOp::CompareRequest(_) => reply(
                id,
                LdapOp::CompareResult(result(
                    LdapResultCode::UnwillingToPerform,
                    "",
                    "compare is not supported yet",
                )),
            ),
            // A client sent a response: it is not speaking LDAP to us.
            _ => Outcome::Close,
        }
    }

    async fn bind(&mut self, req: LdapBindRequest) -> LdapResult {
        self.bound = None;
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
        if password.is_empty() {
            // RFC 4513 §5.1.2: an unauthenticated bind must not succeed.
            return result(
                LdapResultCode::UnwillingToPerform,
                "",
                "unauthenticated bind (DN without password) is not allowed",
            );
        }
        let directory = &self.state.directory;
        let outcome = match self.tree().user_name(&req.dn) {
            Some(name) => directory.authenticate(&name, &password).await,
            None => Err(directory.reject_credentials(&password).await),
        };
        match outcome {
            Ok(user) => {
                self.bound = Some(Bound {
                    dn: self.tree().user_dn(&user.attrs.user_name).to_string(),
                });
                result(LdapResultCode::Success, "", "")
            }
            Err(DirectoryError::InvalidCredentials) => {
                result(LdapResultCode::InvalidCredentials, "", "")
            }
            Err(e) => internal(e),
        }
    }

    fn extended(&self, req: &LdapExtendedRequest) -> LdapExtendedResponse {
        let ok = |value: Option<Vec<u8>>| LdapExtendedResponse {
            res: result(LdapResultCode::Success, "", ""),
            name: None,
            value,
        };
        match req.name.as_str() {
            OID_WHOAMI => ok(Some(
                self.bound
                    .as_ref()
                    .map(|b| format!("dn:{}", b.dn))
                    .unwrap_or_default()
                    .into_bytes(),
            )),
            other => LdapExtendedResponse {
                res: result(
                    LdapResultCode::ProtocolError,
                    "",
                    &format!("extended operation {other} is not supported"),
                ),
                name: None,
                value: None,
            },
        }
    }

    async fn search(&self, id: i32, req: &LdapSearchRequest) -> Vec<LdapMsg> {
        let done = |res: LdapResult| LdapMsg::new(id, LdapOp::SearchResultDone(res));
        let tree = self.tree().clone();
        let sel = Selection::new(&req.attrs, req.typesonly);
        if req.base.is_empty() && req.scope == LdapSearchScope::Base {
            let attrs = entries::root_dse_attrs(&tree);
            let mut out = Vec::new();
            if filter::matches_static(&req.filter, &entries::as_pairs(&attrs)) {
                let sel = if req.attrs.is_empty() {
                    Selection::new(&["*".into(), "+".into()], req.typesonly)
                } else {
                    sel
                };
                out.push(LdapMsg::new(
                    id,
                    LdapOp::SearchResultEntry(entries::fixed_entry(String::new(), attrs, &sel)),
                ));
            }
            out.push(done(result(LdapResultCode::Success, "", "")));
            return out;
        }
        if self.bound.is_none() {
            return vec![done(result(
                LdapResultCode::InsufficentAccessRights,
                "",
                "bind first: anonymous clients may read only the root DSE",
            ))];
        }
        if let Err(e) = filter::check(&req.filter, self.state.config.max_filter_depth) {
            return vec![done(result(LdapResultCode::UnwillingToPerform, "", &e.0))];
        }
        let base = match Dn::parse(&req.base) {
            Ok(dn) => dn,
            Err(e) => {
                return vec![done(result(
                    LdapResultCode::InvalidDNSyntax,
                    "",
                    &format!("invalid base DN: {e}"),
                ))]
            }
        };
        let place = match tree.place(&base) {
            Ok(p) => p,
            Err(matched) => {
                return vec![done(result(
                    LdapResultCode::NoSuchObject,
                    &matched.to_string(),
                    "",
                ))]
            }
        };
        match self.collect(&tree, &place, req, &sel).await {
            Ok((found, exceeded)) => {
                let mut entries: Vec<LdapMsg> = found
                    .into_iter()
                    .map(|e| LdapMsg::new(id, LdapOp::SearchResultEntry(e)))
                    .collect();
                entries.push(done(if exceeded {
                    result(LdapResultCode::SizeLimitExceeded, "", "")
                } else {
                    result(LdapResultCode::Success, "", "")
                }));
                entries
            }
            Err(res) => vec![done(res)],
        }
    }

    /// The entries a search returns, and whether the size limit cut them.
    async fn collect(
        &self,
        tree: &Tree,
        place: &Place,
        req: &LdapSearchRequest,
        sel: &Selection,
    ) -> Result<(Vec<LdapSearchResultEntry>, bool), LdapResult> {
        let Plan {
            fixed,
            users,
            groups,
        } = Plan::new(place, &req.scope);
        let directory = &self.state.directory;
        // A search based on an entry that does not exist is noSuchObject.
        match place {
            Place::User(n)
                if directory
                    .get_user_by_name(n)
                    .await
                    .map_err(internal)?
                    .is_none() =>
            {
                return Err(result(
                    LdapResultCode::NoSuchObject,
                    &tree.people.to_string(),
                    "",
                ));
            }
            Place::Group(n) => {
                let probe = Filter::Compare(
                    by_key(GROUP_ATTRS, "displayName").expect("displayName"),
                    Op::Eq,
                    Value::Str(n.clone()),
                );
                if directory
                    .find_groups(&Query::new(probe, 0, 0), false)
                    .await
                    .map_err(internal)?
                    .total
                    == 0
                {
                    return Err(result(
                        LdapResultCode::NoSuchObject,
                        &tree.groups.to_string(),
                        "",
                    ));
                }
            }
            _ => {}
        }
        let max = self.state.config.max_search_results;
        let limit = if req.sizelimit > 0 {
            (req.sizelimit as usize).min(max)
        } else {
            max
        };
        let mut out = Vec::new();
        let mut exceeded = false;
        for p in fixed {
            let (dn, attrs) = entries::container_attrs(tree, &p);
            if filter::matches_static(&req.filter, &entries::as_pairs(&attrs)) {
                out.push(entries::fixed_entry(dn, attrs, sel));
            }
        }
        if let Some(scope) = users {
            let f = scope.and(filter::for_users(tree, &req.filter));
            let room = limit.saturating_sub(out.len());
            let page = directory
                .find_users(&Query::new(f, 0, room + 1))
                .await
                .map_err(internal)?;
            exceeded |= page.items.len() > room;
            out.extend(
                page.items
                    .iter()
                    .take(room)
                    .map(|u| entries::user_entry(tree, directory.posix(), u, sel)),
            );
        }
        if let Some(scope) = groups {
            let f = scope.and(filter::for_groups(tree, &req.filter));
            let room = limit.saturating_sub(out.len());
            let page = directory
                .find_groups(&Query::new(f, 0, room + 1), sel.wants_members())
                .await
                .map_err(internal)?;
            exceeded |= page.items.len() > room;
            out.extend(
                page.items
                    .iter()
                    .take(room)
                    .map(|g| entries::group_entry(tree, directory.posix(), g, sel)),
            );
        }
        if out.len() > limit {
            out.truncate(limit);
            exceeded = true;
        }
        Ok((out, exceeded))
    }
}

/// Which entries a search visits: fixed entries, and users and groups
/// (each restricted by a filter) or none of them.
struct Plan {
    fixed: Vec<Place>,
    users: Option<Filter<User>>,
    groups: Option<Filter<Group>>,
}

impl Plan {
    fn new(place: &Place, scope: &LdapSearchScope) -> Plan {
        use LdapSearchScope::*;
        let plan = |fixed: Vec<Place>, users: bool, groups: bool| Plan {
            fixed,
            users: users.then_some(Filter::True),
            groups: groups.then_some(Filter::True),
        };
        match (place, scope) {
            (Place::Base, Base) => plan(vec![Place::Base], false, false),
            (Place::Base, OneLevel) => plan(vec![Place::People, Place::Groups], false, false),
            (Place::Base, Subtree) => {
                plan(vec![Place::Base, Place::People, Place::Groups], true, true)
            }
            (Place::Base, Children) => plan(vec![Place::People, Place::Groups], true, true),
            (Place::People, Base) => plan(vec![Place::People], false, false),
            (Place::People, OneLevel | Children) => plan(vec![], true, false),
            (Place::People, Subtree) => plan(vec![Place::People], true, false),
            (Place::Groups, Base) => plan(vec![Place::Groups], false, false),
            (Place::Groups, OneLevel | Children) => plan(vec![], false, true),
            (Place::Groups, Subtree) => plan(vec![Place::Groups], false, true),
            (Place::User(name), Base | Subtree) => Plan {
                fixed: vec![],
                users: by_key(USER_ATTRS, "userName")
                    .map(|d| Filter::Compare(d, Op::Eq, Value::Str(name.clone()))),
                groups: None,
            },
            (Place::Group(name), Base | Subtree) => Plan {
                fixed: vec![],
                users: None,
                groups: by_key(GROUP_ATTRS, "displayName")
                    .map(|d| Filter::Compare(d, Op::Eq, Value::Str(name.clone()))),
            },
            (Place::User(_) | Place::Group(_), OneLevel | Children) => plan(vec![], false, false),
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
