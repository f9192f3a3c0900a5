//! One LDAP connection's state and the operations on it: bind, search,
//! whoami, unbind. Requests are answered in order.

use std::sync::Arc;

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapBindResponse, LdapExtendedRequest, LdapExtendedResponse, LdapMsg, LdapOp,
    LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
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
            LdapControl::Unknown { oid, criticality: true, .. } => Some(oid.clone()),
            _ => None,
        }) {
            let res = result(
                LdapResultCode::UnavailableCriticalExtension,
                "",
                &format!("critical control {oid} is not supported"),
            );
            return match msg.op {
                LdapOp::SearchRequest(_) => reply(id, LdapOp::SearchResultDone(res)),
                LdapOp::BindRequest(_) => reply(id, LdapOp::BindResponse(LdapBindResponse { res, saslcreds: None })),
                LdapOp::UnbindRequest => Outcome::Close,
                LdapOp::AbandonRequest(_) => Outcome::Reply(Vec::new()),
                _ => reply(id, LdapOp::ExtendedResponse(LdapExtendedResponse { res, name: None, value: None })),
            };
        }
        match msg.op {
            LdapOp::BindRequest(req) => {
                let res = self.bind(req).await;
                reply(id, LdapOp::BindResponse(LdapBindResponse { res, saslcreds: None }))
            }
            LdapOp::SearchRequest(req) => Outcome::Reply(self.search(id, &req).await),
            LdapOp::ExtendedRequest(req) => reply(id, LdapOp::ExtendedResponse(self.extended(&req))),
            LdapOp::UnbindRequest => Outcome::Close,
            LdapOp::AbandonRequest(_) => Outcome::Reply(Vec::new()),
            LdapOp::AddRequest(_) => reply(id, LdapOp::AddResponse(read_only())),
            LdapOp::ModifyRequest(_) => reply(id, LdapOp::ModifyResponse(read_only())),
            LdapOp::DelRequest(_) => reply(id, LdapOp::DelResponse(read_only())),
            LdapOp::ModifyDNRequest(_) => reply(id, LdapOp::ModifyDNResponse(read_only())),
            LdapOp::CompareRequest(_) => reply(
                id,
                LdapOp::CompareResult(result(LdapResultCode::UnwillingToPerform, "", "compare is not supported yet")),
            ),
            // A client sent a response: it is not speaking LDAP to us.
            _ => Outcome::Close,
        }
    }

    async fn bind(&mut self, req: LdapBindRequest) -> LdapResult {
        self.bound = None;
        if req.version != 3 {
            return result(LdapResultCode::ProtocolError, "", "only LDAP version 3 is supported");
        }
        let password = match req.cred {
            LdapBindCred::Simple(p) => p,
            _ => return result(LdapResultCode::AuthMethodNotSupported, "", "only simple bind is supported"),
        };
        if req.dn.is_empty() && password.is_empty() {
            return result(LdapResultCode::Success, "", "");
        }
        if password.is_empty() {
            // RFC 4513 §5.1.2: an unauthenticated bind must not succeed.
            return result(LdapResultCode::UnwillingToPerform, "", "unauthenticated bind (DN without password) is not allowed");
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
            Err(DirectoryError::InvalidCredentials) => result(LdapResultCode::InvalidCredentials, "", ""),
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
                self.bound.as_ref().map(|b| format!("dn:{}", b.dn)).unwrap_or_default().into_bytes(),
            )),
            other => LdapExtendedResponse {
                res: result(LdapResultCode::ProtocolError, "", &format!("extended operation {other} is not supported")),
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
                let sel = if req.attrs.is_empty() { Selection::new(&["*".into(), "+".into()], req.typesonly) } else { sel };
                out.push(LdapMsg::new(id, LdapOp::SearchResultEntry(entries::fixed_entry(String::new(), attrs, &sel))));
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
            Err(e) => return vec![done(result(LdapResultCode::InvalidDNSyntax, "", &format!("invalid base DN: {e}")))],
        };
        let place = match tree.place(&base) {
            Ok(p) => p,
            Err(matched) => return vec![done(result(LdapResultCode::NoSuchObject, &matched.to_string(), ""))],
        };
        match self.collect(&tree, &place, req, &sel).await {
            Ok((found, exceeded)) => {
                let mut entries: Vec<LdapMsg> =
                    found.into_iter().map(|e| LdapMsg::new(id, LdapOp::SearchResultEntry(e))).collect();
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
        use LdapSearchScope::*;
        let name_is = |key: &str, table_user: bool, name: &str| -> Option<(Option<Filter<User>>, Option<Filter<Group>>)> {
            Some(if table_user {
                (Some(Filter::Compare(by_key(USER_ATTRS, key)?, Op::Eq, Value::Str(name.into()))), None)
            } else {
                (None, Some(Filter::Compare(by_key(GROUP_ATTRS, key)?, Op::Eq, Value::Str(name.into()))))
            })
        };
        let all = || (Some(Filter::True), Some(Filter::True));
        let (fixed, (users, groups)): (Vec<Place>, (Option<Filter<User>>, Option<Filter<Group>>)) =
            match (place, &req.scope) {
                (Place::Base, Base) => (vec![Place::Base], (None, None)),
                (Place::Base, OneLevel) => (vec![Place::People, Place::Groups], (None, None)),
                (Place::Base, Subtree) => (vec![Place::Base, Place::People, Place::Groups], all()),
                (Place::Base, Children) => (vec![Place::People, Place::Groups], all()),
                (Place::People, Base) => (vec![Place::People], (None, None)),
                (Place::People, OneLevel | Children) => (vec![], (Some(Filter::True), None)),
                (Place::People, Subtree) => (vec![Place::People], (Some(Filter::True), None)),
                (Place::Groups, Base) => (vec![Place::Groups], (None, None)),
                (Place::Groups, OneLevel | Children) => (vec![], (None, Some(Filter::True))),
                (Place::Groups, Subtree) => (vec![Place::Groups], (None, Some(Filter::True))),
                (Place::User(n), Base | Subtree) => (vec![], name_is("userName", true, n).unwrap_or_default()),
                (Place::Group(n), Base | Subtree) => (vec![], name_is("displayName", false, n).unwrap_or_default()),
                (Place::User(_) | Place::Group(_), OneLevel | Children) => (vec![], (None, None)),
            };
        let directory = &self.state.directory;
        // A search based on an entry that does not exist is noSuchObject.
        match place {
            Place::User(n) if directory.get_user_by_name(n).await.map_err(internal)?.is_none() => {
                return Err(result(LdapResultCode::NoSuchObject, &tree.people.to_string(), ""));
            }
            Place::Group(n) => {
                let probe = Filter::Compare(by_key(GROUP_ATTRS, "displayName").expect("displayName"), Op::Eq, Value::Str(n.clone()));
                if directory.find_groups(&Query::new(probe, 0, 0), false).await.map_err(internal)?.total == 0 {
                    return Err(result(LdapResultCode::NoSuchObject, &tree.groups.to_string(), ""));
                }
            }
            _ => {}
        }
        let max = self.state.config.max_search_results;
        let limit = if req.sizelimit > 0 { (req.sizelimit as usize).min(max) } else { max };
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
            let page = directory.find_users(&Query::new(f, 0, room + 1)).await.map_err(internal)?;
            exceeded |= page.items.len() > room;
            out.extend(page.items.iter().take(room).map(|u| entries::user_entry(tree, u, sel)));
        }
        if let Some(scope) = groups {
            let f = scope.and(filter::for_groups(tree, &req.filter));
            let room = limit.saturating_sub(out.len());
            let page = directory.find_groups(&Query::new(f, 0, room + 1), true).await.map_err(internal)?;
            exceeded |= page.items.len() > room;
            out.extend(page.items.iter().take(room).map(|g| entries::group_entry(tree, g, sel)));
        }
        if out.len() > limit {
            out.truncate(limit);
            exceeded = true;
        }
        Ok((out, exceeded))
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
