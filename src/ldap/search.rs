//! LDAP search (RFC 4511 §4.5.1): which entries a search visits, what the
//! bound identity may see of them, server-side sorting (RFC 2891, one key)
//! and simple paged results (RFC 2696) over a snapshot of the matching
//! entries taken at the first page, so that pages are stable however the
//! directory changes in between.

use std::time::{Duration, Instant};

use ldap3_proto::control::{LdapControl, ServerSortResult};
use ldap3_proto::proto::{
    LdapMsg, LdapOp, LdapPartialAttribute, LdapResult, LdapResultCode, LdapSearchRequest,
    LdapSearchResultEntry, LdapSearchScope,
};
use uuid::Uuid;

use super::controls::Requested;
use super::dn::Dn;
use super::entries::{self, Selection};
use super::filter;
use super::schema;
use super::session::{internal, result, Access, Session};
use super::tree::{Place, Tree};
use crate::directory::attributes::{by_key, by_ldap, GROUP_ATTRS, USER_ATTRS};
use crate::directory::{Filter, Group, Op, Query, Sort, User, Value};

/// Paged searches one connection may have open; the oldest is dropped.
const MAX_OPEN_PAGED: usize = 8;

/// An entry a search found, before it is read and rendered.
#[derive(Debug, Clone, PartialEq)]
enum Hit {
    Fixed(Place),
    User(Uuid),
    Group(Uuid),
}

/// A paged search in progress on a connection.
pub struct Paged {
    cookie: Vec<u8>,
    /// The request it belongs to (base, scope, filter, attributes, sort).
    key: String,
    hits: Vec<Hit>,
    next: usize,
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

    /// Narrows the plan to what `access` may read: a user without a
    /// reader role sees only their own entry.
    fn restrict(mut self, access: &Access) -> Plan {
        if let Access::OwnEntry(me) = access {
            self.fixed.clear();
            self.groups = None;
            if let (Some(f), Some(id)) = (self.users.take(), by_key(USER_ATTRS, "id")) {
                self.users = Some(f.and(Filter::Compare(id, Op::Eq, Value::Str(me.to_string()))));
            }
        }
        self
    }
}

/// The sort a Server-Side Sort request asks for, per kind, or the result
/// code to report when it cannot be done.
struct Sorting {
    users: Option<Sort<User>>,
    groups: Option<Sort<Group>>,
    /// What the sort response control says.
    outcome: LdapResultCode,
}

fn sorting(tree: &Tree, requested: &Requested) -> Option<Sorting> {
    let keys = requested.sort.as_ref()?;
    let Some(key) = keys.first() else {
        return Some(Sorting {
            users: None,
            groups: None,
            outcome: LdapResultCode::ProtocolError,
        });
    };
    let descending = key.reverse_order;
    let users = by_ldap(tree.attrs.users, &key.attribute_name)
        .filter(|d| d.sortable())
        .map(|attr| Sort { attr, descending });
    let groups = by_ldap(tree.attrs.groups, &key.attribute_name)
        .filter(|d| d.sortable())
        .map(|attr| Sort { attr, descending });
    let outcome = if keys.len() > 1 {
        // One key only: RFC 2891's unwillingToPerform.
        LdapResultCode::UnwillingToPerform
    } else if users.is_none() && groups.is_none() {
        LdapResultCode::NoSuchAttribute
    } else {
        LdapResultCode::Success
    };
    Some(Sorting {
        users: users.filter(|_| outcome == LdapResultCode::Success),
        groups: groups.filter(|_| outcome == LdapResultCode::Success),
        outcome,
    })
}

fn sort_control(s: &Sorting) -> LdapControl {
    LdapControl::ServerSortResult {
        sort_result: ServerSortResult {
            result_code: s.outcome.clone(),
            attribute_type: None,
        },
    }
}

fn paged_control(total: usize, cookie: Vec<u8>) -> LdapControl {
    LdapControl::SimplePagedResults {
        size: total as i64,
        cookie,
    }
}

impl Session {
    /// Answers a search request with its entries and the final result.
    pub async fn search(
        &mut self,
        id: i32,
        req: &LdapSearchRequest,
        requested: &Requested,
    ) -> Vec<LdapMsg> {
        let done = |res: LdapResult, ctrl: Vec<LdapControl>| {
            let mut m = LdapMsg::new(id, LdapOp::SearchResultDone(res));
            m.ctrl = ctrl;
            m
        };
        let tree = self.tree().clone();
        let sel = Selection::new(&req.attrs, req.typesonly);
        if req.base.is_empty() && req.scope == LdapSearchScope::Base {
            let attrs = entries::root_dse_attrs(&tree, self.state.tls.is_some());
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
            out.push(done(result(LdapResultCode::Success, "", ""), vec![]));
            return out;
        }
        if req.scope == LdapSearchScope::Base
            && Dn::parse(&req.base)
                .is_ok_and(|dn| dn.to_string().eq_ignore_ascii_case(schema::SUBSCHEMA_DN))
        {
            // The subschema entry, readable by anyone (RFC 4512 §4.4).
            let attrs = schema::subschema_attrs(self.state.directory.declared());
            let mut out = Vec::new();
            if filter::matches_static(&req.filter, &entries::as_pairs(&attrs)) {
                out.push(LdapMsg::new(
                    id,
                    LdapOp::SearchResultEntry(entries::fixed_entry(
                        schema::SUBSCHEMA_DN.into(),
                        attrs,
                        &sel,
                    )),
                ));
            }
            out.push(done(result(LdapResultCode::Success, "", ""), vec![]));
            return out;
        }
        let Some(access) = self.access() else {
            return vec![done(
                result(
                    LdapResultCode::InsufficentAccessRights,
                    "",
                    "bind first: anonymous clients may read only the root DSE",
                ),
                vec![],
            )];
        };
        if let Err(e) = filter::check(&req.filter, self.state.config.max_filter_depth) {
            return vec![done(
                result(LdapResultCode::UnwillingToPerform, "", &e.0),
                vec![],
            )];
        }
        let base = match Dn::parse(&req.base) {
            Ok(dn) => dn,
            Err(e) => {
                return vec![done(
                    result(
                        LdapResultCode::InvalidDNSyntax,
                        "",
                        &format!("invalid base DN: {e}"),
                    ),
                    vec![],
                )]
            }
        };
        let place = match tree.place(&base) {
            Ok(p) => p,
            Err(matched) => {
                return vec![done(
                    result(LdapResultCode::NoSuchObject, &matched.to_string(), ""),
                    vec![],
                )]
            }
        };
        if let Err(res) = self.base_exists(&tree, &place).await {
            return vec![done(res, vec![])];
        }
        let plan = Plan::new(&place, &req.scope).restrict(&access);
        let sorting = sorting(self.tree(), requested);
        let mut controls: Vec<LdapControl> = sorting.iter().map(sort_control).collect();
        let deadline =
            (req.timelimit > 0).then(|| Instant::now() + Duration::from_secs(req.timelimit as u64));
        let outcome = match &requested.paged {
            Some((size, cookie)) => self
                .paged_page(req, &sel, &plan, sorting.as_ref(), *size, cookie, deadline)
                .await
                .map(|(entries, code, total, cookie)| {
                    controls.push(paged_control(total, cookie));
                    (entries, code)
                }),
            None => {
                self.collect(req, &sel, &plan, sorting.as_ref(), deadline)
                    .await
            }
        };
        match outcome {
            Ok((found, code)) => {
                let mut out: Vec<LdapMsg> = found
                    .into_iter()
                    .map(|e| LdapMsg::new(id, LdapOp::SearchResultEntry(e)))
                    .collect();
                out.push(done(result(code, "", ""), controls));
                out
            }
            Err(res) => vec![done(res, controls)],
        }
    }

    /// A search based on an entry that does not exist is noSuchObject.
    async fn base_exists(&self, tree: &Tree, place: &Place) -> Result<(), LdapResult> {
        let directory = &self.state.directory;
        let missing = match place {
            Place::User(n) => directory
                .get_user_by_name(n)
                .await
                .map_err(internal)?
                .is_none(),
            Place::Group(n) => {
                let probe = Filter::Compare(
                    by_key(GROUP_ATTRS, "displayName").expect("displayName"),
                    Op::Eq,
                    Value::Str(n.clone()),
                );
                directory
                    .find_groups(&Query::new(probe, 0, 0), false)
                    .await
                    .map_err(internal)?
                    .total
                    == 0
            }
            _ => false,
        };
        if missing {
            let parent = if matches!(place, Place::User(_)) {
                &tree.people
            } else {
                &tree.groups
            };
            return Err(result(
                LdapResultCode::NoSuchObject,
                &parent.to_string(),
                "",
            ));
        }
        Ok(())
    }

    /// The size limit in force: the client's, capped by the server's.
    fn limit(&self, req: &LdapSearchRequest) -> usize {
        let max = self.state.config.max_search_results;
        if req.sizelimit > 0 {
            (req.sizelimit as usize).min(max)
        } else {
            max
        }
    }

    /// The fixed entries of a plan that match the filter.
    fn fixed_hits(
        &self,
        req: &LdapSearchRequest,
        plan: &Plan,
    ) -> Vec<(Place, LdapSearchResultEntry)> {
        let tree = self.tree();
        plan.fixed
            .iter()
            .filter_map(|p| {
                let (dn, attrs) = entries::container_attrs(tree, p);
                filter::matches_static(&req.filter, &entries::as_pairs(&attrs)).then(|| {
                    let sel = Selection::new(&req.attrs, req.typesonly);
                    (p.clone(), entries::fixed_entry(dn, attrs, &sel))
                })
            })
            .collect()
    }

    /// A search without paging: the entries, and success or
    /// sizeLimitExceeded / timeLimitExceeded.
    async fn collect(
        &self,
        req: &LdapSearchRequest,
        sel: &Selection,
        plan: &Plan,
        sorting: Option<&Sorting>,
        deadline: Option<Instant>,
    ) -> Result<(Vec<LdapSearchResultEntry>, LdapResultCode), LdapResult> {
        let tree = self.tree();
        let directory = &self.state.directory;
        let limit = self.limit(req);
        let mut out: Vec<LdapSearchResultEntry> = self
            .fixed_hits(req, plan)
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let mut exceeded = false;
        if let Some(scope) = &plan.users {
            let f = scope.clone().and(filter::for_users(tree, &req.filter));
            let room = limit.saturating_sub(out.len());
            let q = Query::new(f, 0, room + 1).sorted(sorting.and_then(|s| s.users.clone()));
            let page = directory.find_users(&q).await.map_err(internal)?;
            exceeded |= page.items.len() > room;
            for u in page.items.iter().take(room) {
                let entry =
                    entries::user_entry(tree, directory.posix(), directory.policy(), u, sel);
                out.push(with_binaries(directory, u, sel, entry).await?);
            }
        }
        if timed_out(deadline) {
            return Ok((out, LdapResultCode::TimeLimitExceeded));
        }
        if let Some(scope) = &plan.groups {
            let f = scope.clone().and(filter::for_groups(tree, &req.filter));
            let room = limit.saturating_sub(out.len());
            let q = Query::new(f, 0, room + 1).sorted(sorting.and_then(|s| s.groups.clone()));
            let page = directory
                .find_groups(&q, sel.wants_members())
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
        let code = if exceeded {
            LdapResultCode::SizeLimitExceeded
        } else {
            LdapResultCode::Success
        };
        Ok((out, code))
    }

    /// One page of a paged search: its entries, the result code, the
    /// total (an exact count of the snapshot) and the cookie for the next
    /// page (empty after the last).
    #[allow(clippy::too_many_arguments)]
    async fn paged_page(
        &mut self,
        req: &LdapSearchRequest,
        sel: &Selection,
        plan: &Plan,
        sorting: Option<&Sorting>,
        size: i64,
        cookie: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(Vec<LdapSearchResultEntry>, LdapResultCode, usize, Vec<u8>), LdapResult> {
        let key = format!(
            "{}|{:?}|{:?}|{:?}|{:?}",
            req.base,
            req.scope,
            req.filter,
            req.attrs,
            sorting.map(|s| (s.users.as_ref().map(|u| u.attr.key), s.outcome.clone()))
        );
        if !cookie.is_empty() {
            let Some(at) = self.paged.iter().position(|p| p.cookie == cookie) else {
                return Err(result(
                    LdapResultCode::UnwillingToPerform,
                    "",
                    "the paged results cookie is not valid (expired, or from another search)",
                ));
            };
            if self.paged[at].key != key {
                return Err(result(
                    LdapResultCode::UnwillingToPerform,
                    "",
                    "the paged results cookie belongs to a different search",
                ));
            }
            if size <= 0 {
                // RFC 2696 §3: a size of 0 abandons the paged search.
                self.paged.remove(at);
                return Ok((Vec::new(), LdapResultCode::Success, 0, Vec::new()));
            }
        } else {
            if size <= 0 {
                return Ok((Vec::new(), LdapResultCode::Success, 0, Vec::new()));
            }
            let hits = self.snapshot(req, plan, sorting).await?;
            if self.paged.len() >= MAX_OPEN_PAGED {
                self.paged.remove(0);
            }
            self.paged.push(Paged {
                cookie: Vec::new(),
                key,
                hits,
                next: 0,
            });
        }
        let at = match cookie.is_empty() {
            true => self.paged.len() - 1,
            false => self
                .paged
                .iter()
                .position(|p| p.cookie == cookie)
                .expect("found above"),
        };
        let (total, chunk) = {
            let p = &self.paged[at];
            let end = (p.next + size as usize).min(p.hits.len());
            (p.hits.len(), p.hits[p.next..end].to_vec())
        };
        let mut entries = Vec::with_capacity(chunk.len());
        let mut rendered = 0;
        for hit in &chunk {
            if timed_out(deadline) {
                break;
            }
            rendered += 1;
            if let Some(e) = self.render(hit, req, sel).await? {
                entries.push(e);
            }
        }
        let p = &mut self.paged[at];
        p.next += rendered;
        let code = if rendered < chunk.len() {
            LdapResultCode::TimeLimitExceeded
        } else {
            LdapResultCode::Success
        };
        if p.next >= p.hits.len() {
            self.paged.remove(at);
            return Ok((entries, code, total, Vec::new()));
        }
        p.cookie = Uuid::new_v4().as_bytes().to_vec();
        Ok((entries, code, total, p.cookie.clone()))
    }

    /// Every entry a paged search will return, in order (the client's size
    /// limit applies; the server's applies only to searches without paging).
    async fn snapshot(
        &self,
        req: &LdapSearchRequest,
        plan: &Plan,
        sorting: Option<&Sorting>,
    ) -> Result<Vec<Hit>, LdapResult> {
        let tree = self.tree();
        let directory = &self.state.directory;
        let limit = if req.sizelimit > 0 {
            req.sizelimit as usize
        } else {
            usize::MAX
        };
        let mut hits: Vec<Hit> = self
            .fixed_hits(req, plan)
            .into_iter()
            .map(|(p, _)| Hit::Fixed(p))
            .collect();
        if let Some(scope) = &plan.users {
            let f = scope.clone().and(filter::for_users(tree, &req.filter));
            let q = Query::new(f, 0, limit).sorted(sorting.and_then(|s| s.users.clone()));
            let ids = directory.find_user_ids(&q).await.map_err(internal)?;
            hits.extend(ids.into_iter().map(Hit::User));
        }
        if let Some(scope) = &plan.groups {
            let f = scope.clone().and(filter::for_groups(tree, &req.filter));
            let q = Query::new(f, 0, limit).sorted(sorting.and_then(|s| s.groups.clone()));
            let ids = directory.find_group_ids(&q).await.map_err(internal)?;
            hits.extend(ids.into_iter().map(Hit::Group));
        }
        hits.truncate(limit);
        Ok(hits)
    }

    /// Reads and renders one snapshot entry; `None` if it is gone since.
    async fn render(
        &self,
        hit: &Hit,
        req: &LdapSearchRequest,
        sel: &Selection,
    ) -> Result<Option<LdapSearchResultEntry>, LdapResult> {
        let tree = self.tree();
        let directory = &self.state.directory;
        Ok(match hit {
            Hit::Fixed(p) => {
                let (dn, attrs) = entries::container_attrs(tree, p);
                let sel = Selection::new(&req.attrs, req.typesonly);
                Some(entries::fixed_entry(dn, attrs, &sel))
            }
            Hit::User(id) => match directory.get_user(*id).await {
                Ok(u) => {
                    let entry =
                        entries::user_entry(tree, directory.posix(), directory.policy(), &u, sel);
                    Some(with_binaries(directory, &u, sel, entry).await?)
                }
                Err(crate::directory::DirectoryError::NotFound(_)) => None,
                Err(e) => return Err(internal(e)),
            },
            Hit::Group(id) => match directory.get_group_with(*id, sel.wants_members()).await {
                Ok(g) => Some(entries::group_entry(tree, directory.posix(), &g, sel)),
                Err(crate::directory::DirectoryError::NotFound(_)) => None,
                Err(e) => return Err(internal(e)),
            },
        })
    }
}

fn timed_out(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() > d)
}

/// `entry` with the binary declared attributes of `user` (a jpegPhoto)
/// the request names itself: they are large, and read from the store only
/// then (`*` does not bring them).
async fn with_binaries(
    directory: &crate::directory::Directory,
    user: &User,
    sel: &Selection,
    mut entry: LdapSearchResultEntry,
) -> Result<LdapSearchResultEntry, LdapResult> {
    use crate::directory::declared::Kind;
    for d in directory.declared().users.iter() {
        if d.kind != Kind::Binary || !sel.names(&d.ldap) {
            continue;
        }
        if let Some(blob) = directory
            .user_binary(user, &d.name)
            .await
            .map_err(internal)?
        {
            entry.attributes.push(LdapPartialAttribute {
                atype: d.ldap.clone(),
                vals: vec![blob.bytes],
            });
        }
    }
    Ok(entry)
}
