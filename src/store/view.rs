//! The in-memory read model: every user and group, their memberships and an
//! index of their searchable values, kept in step with the database by
//! [`super::viewed::ViewedStore`]. Searches and reads are answered here
//! without a database round trip; the query tree is evaluated by
//! [`Filter::eval`], the same three-valued semantics the SQL compiler has,
//! after the index has narrowed the candidates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::RwLock;

use compact_str::CompactString;
use smallvec::SmallVec;
use uuid::Uuid;

use super::packed::PackedUser;

use crate::directory::attributes::{user_index, AttrDef, Attributes, Storage, Syntax};
use crate::directory::query::Record;
use crate::directory::query::{Hydrated, Subject};
use crate::directory::{
    Filter, Group, GroupRef, Member, MemberKind, Op, Page, Query, Sort, Timestamp, User, Value,
};

/// A slot number: where a record sits in its table.
type Slot = u32;

/// Slots holding one value of an attribute: most values (an email, a
/// uidNumber) are held by one record, which is kept without an allocation.
#[derive(Debug, Clone)]
// Boxed, the Vec keeps a posting at 16 bytes (24 unboxed): one per
// distinct value of every indexed attribute.
#[allow(clippy::box_collection)]
enum Postings {
    One(Slot),
    Many(Box<Vec<Slot>>),
}

impl Postings {
    fn slots(&self) -> &[Slot] {
        match self {
            Postings::One(s) => std::slice::from_ref(s),
            Postings::Many(v) => v,
        }
    }

    /// Adds `slot` if absent.
    fn add(&mut self, slot: Slot) {
        match self {
            Postings::One(s) if *s == slot => {}
            Postings::One(s) => *self = Postings::Many(Box::new(vec![*s, slot])),
            Postings::Many(v) if v.contains(&slot) => {}
            Postings::Many(v) => v.push(slot),
        }
    }

    /// Removes `slot`; `false` when no slot is left.
    fn remove(&mut self, slot: Slot) -> bool {
        match self {
            Postings::One(s) => *s != slot,
            Postings::Many(v) => {
                v.retain(|s| *s != slot);
                match v.len() {
                    0 => false,
                    1 => {
                        *self = Postings::One(v[0]);
                        true
                    }
                    _ => true,
                }
            }
        }
    }
}

/// An attribute's values → the slots holding them, in value order (so that
/// prefixes and ranges are one walk). Values of up to 24 bytes are kept
/// inline.
type ValueIndex = BTreeMap<CompactString, Postings>;

/// The groups a user or group is directly in (most are in a few).
type GroupSlots = SmallVec<[Slot; 4]>;

/// One member of a group, as stored: the member's id and kind. Names are
/// looked up when the group is read, so a renamed user shows its new name
/// everywhere at once; the display text a client sent, if any, is kept
/// beside (`Inner::member_display`).
#[derive(Debug, Clone, Copy)]
struct MemberRow {
    id: Uuid,
    kind: MemberKind,
}

struct Table<T> {
    records: Vec<Option<T>>,
    free: Vec<Slot>,
    by_id: HashMap<Uuid, Slot>,
    /// Lower-cased names (userName, displayName) → slot, in order: the
    /// default ordering of lists.
    by_name: BTreeMap<CompactString, Slot>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            records: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            by_name: BTreeMap::new(),
        }
    }
}

impl<T> Table<T> {
    fn get(&self, slot: Slot) -> Option<&T> {
        self.records.get(slot as usize).and_then(Option::as_ref)
    }

    fn slot(&self, id: &Uuid) -> Option<Slot> {
        self.by_id.get(id).copied()
    }

    fn put(&mut self, id: Uuid, name_lc: &str, record: T) -> Slot {
        let slot = self.place(id, record);
        self.by_name.insert(name_lc.into(), slot);
        slot
    }

    /// Puts `record` in its slot (a new one for a new id), leaving the
    /// name map alone.
    fn place(&mut self, id: Uuid, record: T) -> Slot {
        let slot = match self.by_id.get(&id) {
            Some(s) => *s,
            None => match self.free.pop() {
                Some(s) => s,
                None => {
                    self.records.push(None);
                    (self.records.len() - 1) as Slot
                }
            },
        };
        self.records[slot as usize] = Some(record);
        self.by_id.insert(id, slot);
        slot
    }

    fn remove(&mut self, id: &Uuid, name_lc: &str) -> Option<Slot> {
        let slot = self.by_id.remove(id)?;
        if self.by_name.get(name_lc) == Some(&slot) {
            self.by_name.remove(name_lc);
        }
        self.records[slot as usize] = None;
        self.free.push(slot);
        Some(slot)
    }

    fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[derive(Default)]
struct Inner {
    users: Table<PackedUser>,
    /// attribute key → value → user slots (the store's `user_index`, plus
    /// externalId).
    user_values: HashMap<&'static str, ValueIndex>,
    groups: Table<Group>,
    /// attribute key → value → group slots (externalId, gidNumber).
    group_values: HashMap<&'static str, ValueIndex>,
    /// Members of each group, by group slot.
    members: HashMap<Slot, Vec<MemberRow>>,
    /// The display text a client sent for a member, by group slot and
    /// member id (rarely set).
    member_display: HashMap<(Slot, Uuid), Box<str>>,
    /// The groups each user or group is a direct member of, by member id.
    member_of: HashMap<Uuid, GroupSlots>,
    /// Records this view stopped serving, with the version up to which a
    /// late refresh must not bring them back (`i64::MAX`: deleted for good;
    /// a banned record comes back with a later version if restored).
    gone: HashMap<Uuid, i64>,
    /// The attribute tables (built-in and declared).
    attrs: Attributes,
}

/// Adds sorted `entries` to `map`; into an empty map they are built in one
/// pass with every B-tree node full (inserting them one by one would leave
/// nodes about half full).
fn extend_sorted<V>(map: &mut BTreeMap<CompactString, V>, entries: Vec<(CompactString, V)>) {
    if map.is_empty() {
        *map = BTreeMap::from_iter(entries);
    } else {
        map.extend(entries);
    }
}

/// Users' names and index values gathered while the view is loaded.
#[derive(Default)]
pub struct Loading {
    names: Vec<(CompactString, Slot)>,
    values: Vec<(&'static str, CompactString, Slot)>,
}

/// The read model. Cheap to share; every method takes the lock briefly.
#[derive(Default)]
pub struct View {
    inner: RwLock<Inner>,
}

/// Column attributes the tables already order (names) or that are not
/// worth an index (times, ids).
const UNINDEXED_COLUMNS: &[&str] = &[
    "id",
    "userName",
    "displayName",
    "meta.created",
    "meta.lastModified",
];

/// Values of a record's column attributes, normalised, for the view's index.
fn column_rows<T: Record>(table: &'static [AttrDef<T>], record: &T) -> Vec<(&'static str, String)> {
    table
        .iter()
        .filter(|d| matches!(d.storage, Storage::Column(_)) && !UNINDEXED_COLUMNS.contains(&d.key))
        .flat_map(|d| {
            d.values_of(record)
                .into_iter()
                .map(|v| (d.key, d.normalize(&v)))
        })
        .collect()
}

/// The attribute whose values the view does not index although the store
/// does: `cn` is the displayName or else the userName, both indexed here.
const DERIVED_CN: &str = "cn";

/// The index rows of a user the view keeps: the store's index rows but
/// `cn`, and the other column attributes (externalId, uidNumber).
fn user_rows(attrs: Attributes, user: &User) -> Vec<(&'static str, String)> {
    let mut rows: Vec<(&'static str, String)> = user_index(attrs.users, user)
        .into_iter()
        .filter(|(k, _, _)| *k != DERIVED_CN)
        .map(|(k, v, _)| (k, v))
        .collect();
    rows.extend(column_rows(attrs.users, user));
    rows.sort();
    rows.dedup();
    rows
}

fn post(index: &mut ValueIndex, value: &str, slot: Slot) {
    match index.get_mut(value) {
        Some(p) => p.add(slot),
        None => {
            index.insert(value.into(), Postings::One(slot));
        }
    }
}

fn unpost(index: &mut ValueIndex, value: &str, slot: Slot) {
    if let Some(p) = index.get_mut(value) {
        if !p.remove(slot) {
            index.remove(value);
        }
    }
}

impl Inner {
    /// Whether a record at `version` may be served: not one this view
    /// stopped serving at that version or later.
    fn back(&mut self, id: Uuid, version: i64) -> bool {
        match self.gone.get(&id) {
            Some(until) if version <= *until => false,
            Some(_) => {
                self.gone.remove(&id);
                true
            }
            None => true,
        }
    }

    fn unindex_user(&mut self, user: &User, slot: Slot) {
        for (key, value) in user_rows(self.attrs, user) {
            if let Some(index) = self.user_values.get_mut(key) {
                unpost(index, &value, slot);
            }
        }
    }

    fn put_user(&mut self, user: &User) {
        if let Some(old) = self.users.slot(&user.id) {
            if let Some(previous) = self.users.get(old) {
                if previous.version > user.meta.version {
                    return;
                }
                let previous = previous.unpack();
                self.unindex_user(&previous, old);
                self.users
                    .by_name
                    .remove(previous.attrs.user_name.to_lowercase().as_str());
            }
        }
        let rows = user_rows(self.attrs, user);
        let name = user.attrs.user_name.to_lowercase();
        let slot = self.users.put(user.id, &name, PackedUser::pack(user));
        for (key, value) in rows {
            post(self.user_values.entry(key).or_default(), &value, slot);
        }
    }

    fn remove_user(&mut self, id: Uuid) {
        let Some(slot) = self.users.slot(&id) else {
            return;
        };
        if let Some(user) = self.users.get(slot).map(PackedUser::unpack) {
            self.unindex_user(&user, slot);
            self.users.remove(&id, &user.attrs.user_name.to_lowercase());
        }
        self.forget_member(id);
    }

    /// Removes a deleted user or group from every group it was in.
    fn forget_member(&mut self, id: Uuid) {
        for g in self.member_of.remove(&id).unwrap_or_default() {
            if let Some(rows) = self.members.get_mut(&g) {
                rows.retain(|m| m.id != id);
            }
            self.member_display.remove(&(g, id));
        }
    }

    fn put_group(&mut self, group: &Group, members: Option<&[Member]>) {
        if let Some(old) = self.groups.slot(&group.id) {
            if let Some(previous) = self.groups.get(old) {
                if previous.meta.version > group.meta.version {
                    return;
                }
                let name = previous.attrs.display_name.to_lowercase();
                let rows = column_rows(self.attrs.groups, previous);
                self.groups.by_name.remove(name.as_str());
                for (key, value) in rows {
                    if let Some(index) = self.group_values.get_mut(key) {
                        unpost(index, &value, old);
                    }
                }
            }
        }
        let rows = column_rows(self.attrs.groups, group);
        let name = group.attrs.display_name.to_lowercase();
        let stored = Group {
            members: Vec::new(),
            ..group.clone()
        };
        let slot = self.groups.put(group.id, &name, stored);
        for (key, value) in rows {
            post(self.group_values.entry(key).or_default(), &value, slot);
        }
        if let Some(members) = members {
            self.set_members(slot, members);
        }
    }

    fn set_members(&mut self, slot: Slot, members: &[Member]) {
        for old in self.members.remove(&slot).unwrap_or_default() {
            self.leave(old.id, slot);
        }
        let mut rows = Vec::with_capacity(members.len());
        for m in members {
            self.join(slot, m);
            rows.push(MemberRow {
                id: m.id,
                kind: m.kind,
            });
        }
        if !rows.is_empty() {
            self.members.insert(slot, rows);
        }
    }

    /// Records that `member` is in the group at `slot` (not its row).
    fn join(&mut self, slot: Slot, member: &Member) {
        let of = self.member_of.entry(member.id).or_default();
        if !of.contains(&slot) {
            of.push(slot);
        }
        match &member.display {
            Some(d) => {
                self.member_display
                    .insert((slot, member.id), d.as_str().into());
            }
            None => {
                self.member_display.remove(&(slot, member.id));
            }
        }
    }

    /// Records that `member` left the group at `slot` (not its row).
    fn leave(&mut self, member: Uuid, slot: Slot) {
        if let Some(of) = self.member_of.get_mut(&member) {
            of.retain(|g| *g != slot);
            if of.is_empty() {
                self.member_of.remove(&member);
            }
        }
        self.member_display.remove(&(slot, member));
    }

    fn remove_group(&mut self, id: Uuid) {
        let Some(slot) = self.groups.slot(&id) else {
            return;
        };
        self.set_members(slot, &[]);
        if let Some(group) = self.groups.get(slot) {
            let name = group.attrs.display_name.to_lowercase();
            for (key, value) in column_rows(self.attrs.groups, group) {
                if let Some(index) = self.group_values.get_mut(key) {
                    unpost(index, &value, slot);
                }
            }
            self.groups.remove(&id, &name);
        }
        self.forget_member(id);
    }

    /// A user with its groups (direct and nested), ordered by name.
    fn hydrate_user(&self, user: &PackedUser) -> User {
        let mut user = user.unpack();
        user.groups = self.groups_of(&user.id);
        user
    }

    fn groups_of(&self, id: &Uuid) -> Vec<GroupRef> {
        let mut groups: Vec<GroupRef> = self
            .ancestors(id)
            .into_iter()
            .filter_map(|(s, direct)| self.groups.get(s).map(|g| (g, direct)))
            .map(|(g, direct)| GroupRef {
                id: g.id,
                display_name: g.attrs.display_name.clone(),
                direct,
                permissions: g.attrs.permissions.clone(),
            })
            .collect();
        groups.sort_by_cached_key(|g| g.display_name.to_lowercase());
        groups
    }

    /// The groups a user or group is in, directly (`true`) or through
    /// nested groups, each once, at most `MAX_NESTING` levels up.
    fn ancestors(&self, id: &Uuid) -> Vec<(Slot, bool)> {
        let mut found: Vec<(Slot, bool)> = Vec::new();
        let mut level: Vec<Slot> = self
            .member_of
            .get(id)
            .map(|of| of.to_vec())
            .unwrap_or_default();
        let mut direct = true;
        for _ in 0..=super::sql::MAX_NESTING {
            let mut next = Vec::new();
            for s in level {
                if found.iter().any(|(f, _)| *f == s) {
                    continue;
                }
                found.push((s, direct));
                if let Some(g) = self.groups.get(s) {
                    next.extend(self.member_of.get(&g.id).into_iter().flatten().copied());
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
            direct = false;
        }
        found
    }

    /// The users in a group, directly or through nested groups.
    fn descendant_users(&self, group: Slot) -> Vec<Slot> {
        let mut users = Vec::new();
        let mut seen = vec![group];
        let mut level = vec![group];
        for _ in 0..=super::sql::MAX_NESTING {
            let mut next = Vec::new();
            for g in level {
                for m in self.members.get(&g).into_iter().flatten() {
                    match m.kind {
                        MemberKind::User => users.extend(self.users.slot(&m.id)),
                        MemberKind::Group => {
                            if let Some(s) = self.groups.slot(&m.id) {
                                if !seen.contains(&s) {
                                    seen.push(s);
                                    next.push(s);
                                }
                            }
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        users.sort_unstable();
        users.dedup();
        users
    }

    /// The member's current name, or `None` if it no longer exists.
    fn member_name(&self, m: &MemberRow) -> Option<&str> {
        match m.kind {
            MemberKind::User => self
                .users
                .slot(&m.id)
                .and_then(|s| self.users.get(s))
                .map(PackedUser::user_name),
            MemberKind::Group => self
                .groups
                .slot(&m.id)
                .and_then(|s| self.groups.get(s))
                .map(|g| g.attrs.display_name.as_str()),
        }
    }

    /// A group, with its members (users first, then groups, each by name)
    /// when `with_members`.
    fn hydrate_group(&self, slot: Slot, group: &Group, with_members: bool) -> Group {
        let mut group = group.clone();
        if with_members {
            let mut members: Vec<Member> = self
                .members
                .get(&slot)
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    Some(Member {
                        id: m.id,
                        kind: m.kind,
                        name: self.member_name(m)?.to_string(),
                        display: self
                            .member_display
                            .get(&(slot, m.id))
                            .map(|d| d.to_string()),
                    })
                })
                .collect();
            members.sort_by_cached_key(|m| (m.kind == MemberKind::Group, m.name.to_lowercase()));
            group.members = members;
        }
        group
    }
}

/// A user in the view, answering membership attributes from the maps.
struct ViewUser<'a> {
    inner: &'a Inner,
    user: &'a User,
}

impl Subject<User> for ViewUser<'_> {
    fn status(&self) -> Option<&'static str> {
        Some(self.user.status.as_str())
    }

    fn any(
        &self,
        def: &'static AttrDef<User>,
        pos: Option<usize>,
        test: &mut dyn FnMut(&str) -> bool,
    ) -> bool {
        let groups = || {
            self.inner
                .member_of
                .get(&self.user.id)
                .into_iter()
                .flatten()
                .filter_map(|s| self.inner.groups.get(*s))
        };
        match def.storage {
            Storage::MemberOfId => groups().any(|g| test(&g.id.to_string())),
            Storage::MemberOfName => groups().any(|g| test(&g.attrs.display_name.to_lowercase())),
            Storage::MemberOfChain => self
                .inner
                .ancestors(&self.user.id)
                .into_iter()
                .filter_map(|(s, _)| self.inner.groups.get(s))
                .any(|g| test(&g.attrs.display_name.to_lowercase())),
            Storage::Permissions => {
                self.inner
                    .ancestors(&self.user.id)
                    .into_iter()
                    .filter_map(|(s, _)| self.inner.groups.get(s))
                    .any(|g| g.attrs.permissions.iter().any(|p| test(&def.normalize(p))))
                    || self
                        .user
                        .attrs
                        .entitlements
                        .iter()
                        .any(|e| test(&def.normalize(&e.value)))
            }
            _ => Hydrated(self.user).any(def, pos, test),
        }
    }

    fn positions(&self, parent: &str) -> Vec<usize> {
        Hydrated(self.user).positions(parent)
    }

    fn has(&self, def: &'static AttrDef<User>, value: &str) -> Option<bool> {
        let slot = match def.storage {
            Storage::MemberOfId => Uuid::parse_str(value)
                .ok()
                .and_then(|id| self.inner.groups.slot(&id)),
            Storage::MemberOfName => self.inner.groups.by_name.get(value).copied(),
            Storage::MemberOfChain => {
                let Some(g) = self.inner.groups.by_name.get(value) else {
                    return Some(false);
                };
                return Some(
                    self.inner
                        .ancestors(&self.user.id)
                        .iter()
                        .any(|(s, _)| s == g),
                );
            }
            _ => return None,
        };
        Some(slot.is_some_and(|g| {
            self.inner
                .member_of
                .get(&self.user.id)
                .is_some_and(|of| of.contains(&g))
        }))
    }
}

/// A group in the view, answering member attributes from the maps.
struct ViewGroup<'a> {
    inner: &'a Inner,
    slot: Slot,
    group: &'a Group,
}

impl Subject<Group> for ViewGroup<'_> {
    fn any(
        &self,
        def: &'static AttrDef<Group>,
        pos: Option<usize>,
        test: &mut dyn FnMut(&str) -> bool,
    ) -> bool {
        let members = || self.inner.members.get(&self.slot).into_iter().flatten();
        let named = |kind: MemberKind, test: &mut dyn FnMut(&str) -> bool| {
            members()
                .filter(|m| m.kind == kind)
                .filter_map(|m| self.inner.member_name(m))
                .any(|n| test(&n.to_lowercase()))
        };
        match def.storage {
            Storage::MemberId => members().any(|m| test(&m.id.to_string())),
            Storage::MemberUserName => named(MemberKind::User, test),
            Storage::MemberGroupName => named(MemberKind::Group, test),
            Storage::MemberChain => self
                .inner
                .descendant_users(self.slot)
                .into_iter()
                .filter_map(|s| self.inner.users.get(s))
                .any(|u| test(&u.user_name().to_lowercase())),
            _ => Hydrated(self.group).any(def, pos, test),
        }
    }

    fn positions(&self, parent: &str) -> Vec<usize> {
        Hydrated(self.group).positions(parent)
    }

    fn has(&self, def: &'static AttrDef<Group>, value: &str) -> Option<bool> {
        let inner = self.inner;
        if def.storage == Storage::MemberChain {
            let user = inner
                .users
                .by_name
                .get(value)
                .and_then(|s| inner.users.get(*s));
            return Some(
                user.is_some_and(|u| inner.ancestors(&u.id).iter().any(|(s, _)| *s == self.slot)),
            );
        }
        let member = match def.storage {
            Storage::MemberId => Uuid::parse_str(value).ok(),
            Storage::MemberUserName => inner
                .users
                .by_name
                .get(value)
                .and_then(|s| inner.users.get(*s))
                .map(|u| u.id),
            Storage::MemberGroupName => inner
                .groups
                .by_name
                .get(value)
                .and_then(|s| inner.groups.get(*s))
                .map(|g| g.id),
            _ => return None,
        };
        Some(member.is_some_and(|id| {
            inner
                .member_of
                .get(&id)
                .is_some_and(|of| of.contains(&self.slot))
        }))
    }
}

/// The slots whose values in `index` satisfy `op value` (a superset is
/// fine: candidates are evaluated in full afterwards); `None` when the index
/// cannot say.
fn lookup(index: &ValueIndex, op: Op, value: &str) -> Option<Vec<Slot>> {
    let range = |lo: Bound<&str>, hi: Bound<&str>| -> Vec<Slot> {
        index
            .range::<str, _>((lo, hi))
            .flat_map(|(_, p)| p.slots().iter().copied())
            .collect()
    };
    match op {
        Op::Eq => Some(
            index
                .get(value)
                .map(|p| p.slots().to_vec())
                .unwrap_or_default(),
        ),
        Op::Sw => Some(
            index
                .range::<str, _>((Bound::Included(value), Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(value))
                .flat_map(|(_, p)| p.slots().iter().copied())
                .collect(),
        ),
        Op::Ge => Some(range(Bound::Included(value), Bound::Unbounded)),
        Op::Gt => Some(range(Bound::Excluded(value), Bound::Unbounded)),
        Op::Le => Some(range(Bound::Unbounded, Bound::Included(value))),
        Op::Lt => Some(range(Bound::Unbounded, Bound::Excluded(value))),
        Op::Co | Op::Ew => None,
    }
}

/// The same as [`lookup`] over a name map (one slot per name).
fn lookup_names(names: &BTreeMap<CompactString, Slot>, op: Op, value: &str) -> Option<Vec<Slot>> {
    let range = |lo: Bound<&str>, hi: Bound<&str>| -> Vec<Slot> {
        names.range::<str, _>((lo, hi)).map(|(_, s)| *s).collect()
    };
    match op {
        Op::Eq => Some(names.get(value).copied().into_iter().collect()),
        Op::Sw => Some(
            names
                .range::<str, _>((Bound::Included(value), Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(value))
                .map(|(_, s)| *s)
                .collect(),
        ),
        Op::Ge => Some(range(Bound::Included(value), Bound::Unbounded)),
        Op::Gt => Some(range(Bound::Excluded(value), Bound::Unbounded)),
        Op::Le => Some(range(Bound::Unbounded, Bound::Included(value))),
        Op::Lt => Some(range(Bound::Unbounded, Bound::Excluded(value))),
        Op::Co | Op::Ew => None,
    }
}

/// The normalised text of a comparison value, if the index can use it.
fn indexed_text<T>(def: &AttrDef<T>, value: &Value) -> Option<String> {
    match (def.syntax, value) {
        (Syntax::Time, _) => None,
        (Syntax::Integer | Syntax::Decimal, Value::Str(s)) => def.syntax.sortable_number(s),
        (Syntax::Integer | Syntax::Decimal, _) => None,
        (_, Value::Str(s)) => Some(def.normalize(s)),
        (_, Value::Bool(b)) => Some(b.to_string()),
        (_, Value::Time(_)) => None,
    }
}

/// What an index can say about one comparison: the candidate slots, or
/// `None` when it cannot say.
type ItemLookup<'a, T> = dyn Fn(&'static AttrDef<T>, Op, &str) -> Option<Vec<Slot>> + 'a;

/// Narrows a filter to candidate slots: an intersection of what indexed
/// items allow, or `None` to look at every record.
fn candidates<T: 'static>(filter: &Filter<T>, item: &ItemLookup<'_, T>) -> Option<Vec<Slot>> {
    match filter {
        Filter::False => Some(Vec::new()),
        Filter::Compare(def, op, value) => {
            let text = indexed_text(def, value)?;
            item(def, *op, &text)
        }
        Filter::Substring(def, parts) => {
            let initial = parts.initial.as_deref()?;
            item(def, Op::Sw, &def.normalize(initial))
        }
        Filter::Element(_, inner) => candidates(inner, item),
        Filter::And(parts) => parts
            .iter()
            .filter_map(|p| candidates(p, item))
            .min_by_key(Vec::len),
        Filter::Or(parts) => {
            let mut all = Vec::new();
            for p in parts {
                all.extend(candidates(p, item)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
        _ => None,
    }
}

/// The order key of a record for a sort: its smallest normalised value, or
/// `None` (sorted last) when it has none.
fn sort_key<T: 'static>(subject: &dyn Subject<T>, sort: &Sort<T>) -> Option<String> {
    let mut best: Option<String> = None;
    subject.any(sort.attr, None, &mut |v| {
        if best.as_deref().is_none_or(|b| v < b) {
            best = Some(v.to_string());
        }
        false
    });
    best
}

/// Orders `(key, name, slot)` rows as the SQL does: records without a value
/// last, then by value, then by name.
fn order(rows: &mut [(Option<String>, String, Slot)], descending: bool) {
    rows.sort_by(|a, b| {
        let by_value = match (&a.0, &b.0) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) if descending => y.cmp(x),
            (Some(x), Some(y)) => x.cmp(y),
        };
        by_value.then_with(|| a.1.cmp(&b.1))
    });
}

/// Matching slots in the default order (by name), or sorted as asked.
/// `subject` evaluates a closure against a record as the view sees it.
fn select<R, T: 'static>(
    table: &Table<R>,
    query: &Query<T>,
    candidates: Option<Vec<Slot>>,
    name_of: impl Fn(&R) -> String,
    with_subject: impl Fn(Slot, &R, &mut dyn FnMut(&dyn Subject<T>)),
) -> Vec<Slot> {
    let matches = |slot: Slot, record: &R| {
        let mut hit = false;
        with_subject(slot, record, &mut |s| {
            hit = query.filter.eval(s) == Some(true)
        });
        hit
    };
    if matches!(query.filter, Filter::True) && query.sort.is_none() && candidates.is_none() {
        return table.by_name.values().copied().collect();
    }
    let mut rows: Vec<(Option<String>, String, Slot)> = match candidates {
        Some(mut slots) => {
            slots.sort_unstable();
            slots.dedup();
            slots
                .into_iter()
                .filter_map(|s| table.get(s).map(|r| (s, r)))
                .filter(|(s, r)| matches(*s, r))
                .map(|(s, r)| (None, name_of(r), s))
                .collect()
        }
        None if query.sort.is_none() => {
            // Already in name order.
            return table
                .by_name
                .values()
                .filter_map(|s| table.get(*s).map(|r| (*s, r)))
                .filter(|(s, r)| matches(*s, r))
                .map(|(s, _)| s)
                .collect();
        }
        None => table
            .by_name
            .iter()
            .filter_map(|(n, s)| table.get(*s).map(|r| (n, *s, r)))
            .filter(|(_, s, r)| matches(*s, r))
            .map(|(n, s, _)| (None, n.to_string(), s))
            .collect(),
    };
    match &query.sort {
        Some(sort) => {
            for row in rows.iter_mut() {
                if let Some(r) = table.get(row.2) {
                    with_subject(row.2, r, &mut |s| {
                        row.0 = match sort.attr.storage {
                            // The store orders by the status's name.
                            Storage::Status => s.status().map(str::to_string),
                            _ => sort_key(s, sort),
                        }
                    });
                }
            }
            order(&mut rows, sort.descending);
        }
        None => rows.sort_by(|a, b| a.1.cmp(&b.1)),
    }
    rows.into_iter().map(|(_, _, s)| s).collect()
}

impl View {
    /// An empty view of records with the attributes of `attrs`.
    pub fn new(attrs: Attributes) -> View {
        let view = View::default();
        view.write().attrs = attrs;
        view
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces a user (its `groups` are ignored: memberships come
    /// from groups). An older version than the one held is ignored.
    pub fn put_user(&self, user: &User) {
        let mut inner = self.write();
        if !inner.back(user.id, user.meta.version) {
            return;
        }
        inner.put_user(user);
    }

    /// Removes a user deleted for good: a late refresh cannot bring it back.
    pub fn remove_user(&self, id: Uuid) {
        let mut inner = self.write();
        inner.gone.insert(id, i64::MAX);
        inner.remove_user(id);
    }

    /// Stops serving a user that is kept in the database (banned, which
    /// gave it a new version); it comes back with a later one if restored.
    pub fn withdraw_user(&self, id: Uuid) {
        let mut inner = self.write();
        if let Some(u) = inner.users.slot(&id).and_then(|s| inner.users.get(s)) {
            let banned_at = u.version + 1;
            inner.gone.insert(id, banned_at);
        }
        inner.remove_user(id);
    }

    /// Adds or replaces a group; its members too when `with_members`.
    pub fn put_group(&self, group: &Group, with_members: bool) {
        let mut inner = self.write();
        if !inner.back(group.id, group.meta.version) {
            return;
        }
        inner.put_group(group, with_members.then_some(&group.members[..]));
    }

    /// Removes a group deleted for good.
    pub fn remove_group(&self, id: Uuid) {
        let mut inner = self.write();
        inner.gone.insert(id, i64::MAX);
        inner.remove_group(id);
    }

    /// Stops serving a group that is kept in the database (banned).
    pub fn withdraw_group(&self, id: Uuid) {
        let mut inner = self.write();
        if let Some(g) = inner.groups.slot(&id).and_then(|s| inner.groups.get(s)) {
            let banned_at = g.meta.version + 1;
            inner.gone.insert(id, banned_at);
        }
        inner.remove_group(id);
    }

    /// Adds and removes members of a group that is now at `version`.
    pub fn modify_members(
        &self,
        group: Uuid,
        add: &[Member],
        remove: &[Uuid],
        modified: Timestamp,
        version: i64,
        by: &str,
    ) {
        let mut inner = self.write();
        let Some(slot) = inner.groups.slot(&group) else {
            return;
        };
        let Some(current) = inner.groups.records[slot as usize].as_mut() else {
            return;
        };
        if current.meta.version >= version {
            return;
        }
        current.meta.modified = modified;
        current.meta.version = version;
        current.meta.modified_by = by.to_string();
        // Only the named members change, as in the database.
        let mut rows = inner.members.remove(&slot).unwrap_or_default();
        if !remove.is_empty() {
            let gone: HashSet<&Uuid> = remove.iter().collect();
            rows.retain(|m| !gone.contains(&m.id));
            for id in remove {
                inner.leave(*id, slot);
            }
        }
        if !add.is_empty() {
            let mut present: HashSet<Uuid> = rows.iter().map(|m| m.id).collect();
            for m in add {
                if present.insert(m.id) {
                    inner.join(slot, m);
                    rows.push(MemberRow {
                        id: m.id,
                        kind: m.kind,
                    });
                }
            }
        }
        if !rows.is_empty() {
            inner.members.insert(slot, rows);
        }
    }

    /// Records that a user's password was set at `at`.
    pub fn password_set(&self, id: &Uuid, at: Timestamp) {
        let mut inner = self.write();
        let Some(slot) = inner.users.slot(id) else {
            return;
        };
        if let Some(current) = inner.users.get(slot) {
            let mut updated = current.unpack();
            updated.password_changed = Some(at);
            inner.users.records[slot as usize] = Some(PackedUser::pack(&updated));
        }
    }

    /// Adds users read at start into an empty view, in batches (so that
    /// they are never all held unpacked at once); their names and values
    /// wait in `loading` for [`View::finish_loading`].
    pub fn load_users(&self, loading: &mut Loading, users: &[User]) {
        let mut inner = self.write();
        for u in users {
            let slot = inner.users.place(u.id, PackedUser::pack(u));
            loading
                .names
                .push((u.attrs.user_name.to_lowercase().into(), slot));
            for (key, value) in user_rows(inner.attrs, u) {
                loading.values.push((key, value.into(), slot));
            }
        }
    }

    /// Builds the name map and the value indexes of the users loaded, each
    /// in one pass over sorted rows (which leaves the B-tree nodes full).
    pub fn finish_loading(&self, loading: Loading) {
        let Loading {
            mut names,
            mut values,
        } = loading;
        let mut inner = self.write();
        names.sort_unstable();
        extend_sorted(&mut inner.users.by_name, names);
        values.sort_unstable();
        let mut rows = values.into_iter().peekable();
        while let Some((key, _, _)) = rows.peek().cloned() {
            let mut entries: Vec<(CompactString, Postings)> = Vec::new();
            while let Some((_, value, slot)) = rows.next_if(|(k, _, _)| *k == key) {
                match entries.last_mut() {
                    Some((v, postings)) if *v == value => postings.add(slot),
                    _ => entries.push((value, Postings::One(slot))),
                }
            }
            extend_sorted(inner.user_values.entry(key).or_default(), entries);
        }
    }

    /// Adds groups read at start, with their members.
    pub fn load_groups(&self, groups: &[Group]) {
        let mut inner = self.write();
        for g in groups {
            inner.put_group(g, Some(&g.members));
        }
    }

    pub fn get_user(&self, id: &Uuid) -> Option<User> {
        let inner = self.read();
        let user = inner.users.get(inner.users.slot(id)?)?;
        Some(inner.hydrate_user(user))
    }

    pub fn get_user_by_name(&self, name: &str) -> Option<User> {
        let inner = self.read();
        let slot = *inner.users.by_name.get(name.to_lowercase().as_str())?;
        let user = inner.users.get(slot)?;
        Some(inner.hydrate_user(user))
    }

    pub fn get_group(&self, id: &Uuid, with_members: bool) -> Option<Group> {
        let inner = self.read();
        let slot = inner.groups.slot(id)?;
        let group = inner.groups.get(slot)?;
        Some(inner.hydrate_group(slot, group, with_members))
    }

    pub fn list_users(&self, query: &Query<User>) -> Page<User> {
        let inner = self.read();
        if matches!(query.filter, Filter::True) && query.sort.is_none() {
            // Every user in name order: walk the name index to the window.
            return Page {
                total: inner.users.len(),
                items: inner
                    .users
                    .by_name
                    .values()
                    .skip(query.offset)
                    .take(query.limit)
                    .filter_map(|s| inner.users.get(*s))
                    .map(|u| inner.hydrate_user(u))
                    .collect(),
            };
        }
        let slots = inner.user_slots(query);
        Page {
            total: slots.len(),
            items: slots
                .iter()
                .skip(query.offset)
                .take(query.limit)
                .filter_map(|s| inner.users.get(*s))
                .map(|u| inner.hydrate_user(u))
                .collect(),
        }
    }

    pub fn list_groups(&self, query: &Query<Group>, with_members: bool) -> Page<Group> {
        let inner = self.read();
        let slots = inner.group_slots(query);
        Page {
            total: slots.len(),
            items: slots
                .iter()
                .skip(query.offset)
                .take(query.limit)
                .filter_map(|s| inner.groups.get(*s).map(|g| (*s, g)))
                .map(|(s, g)| inner.hydrate_group(s, g, with_members))
                .collect(),
        }
    }

    pub fn user_ids(&self, query: &Query<User>) -> Vec<Uuid> {
        let inner = self.read();
        let slots = inner.user_slots(query);
        slots
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .filter_map(|s| inner.users.get(s).map(|u| u.id))
            .collect()
    }

    pub fn group_ids(&self, query: &Query<Group>) -> Vec<Uuid> {
        let inner = self.read();
        let slots = inner.group_slots(query);
        slots
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .filter_map(|s| inner.groups.get(s).map(|g| g.id))
            .collect()
    }

    /// How many users and groups the view holds.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.read();
        (inner.users.len(), inner.groups.len())
    }
}

impl Inner {
    /// The slots of the users a query matches, in its order.
    fn user_slots(&self, query: &Query<User>) -> Vec<Slot> {
        let item = |def: &'static AttrDef<User>, op: Op, text: &str| -> Option<Vec<Slot>> {
            match def.storage {
                Storage::Index if def.key == DERIVED_CN => {
                    let mut slots = lookup_names(&self.users.by_name, op, text)?;
                    let by_display = crate::directory::attributes::USER_ATTRS
                        .iter()
                        .find(|d| d.key == "displayName")?;
                    slots.extend(column_lookup(
                        &self.users,
                        &self.user_values,
                        "userName",
                        by_display,
                        op,
                        text,
                    )?);
                    Some(slots)
                }
                Storage::Column(_) | Storage::Index => {
                    column_lookup(&self.users, &self.user_values, "userName", def, op, text)
                }
                Storage::MemberOfId if op == Op::Eq => {
                    let id = Uuid::parse_str(text).ok();
                    let slot = id.and_then(|id| self.groups.slot(&id));
                    Some(user_members(self, slot))
                }
                Storage::MemberOfName if op == Op::Eq => {
                    let slot = self.groups.by_name.get(text).copied();
                    Some(user_members(self, slot))
                }
                Storage::MemberOfChain if op == Op::Eq => Some(
                    self.groups
                        .by_name
                        .get(text)
                        .map(|g| self.descendant_users(*g))
                        .unwrap_or_default(),
                ),
                _ => None,
            }
        };
        let found = candidates(&query.filter, &item);
        select(
            &self.users,
            query,
            found,
            |u| u.user_name().to_lowercase(),
            |_, u, f| {
                f(&ViewUser {
                    inner: self,
                    user: &u.unpack(),
                })
            },
        )
    }

    /// The slots of the groups a query matches, in its order.
    fn group_slots(&self, query: &Query<Group>) -> Vec<Slot> {
        let item = |def: &'static AttrDef<Group>, op: Op, text: &str| -> Option<Vec<Slot>> {
            let containing = |member: Option<Uuid>| -> Vec<Slot> {
                member
                    .and_then(|id| self.member_of.get(&id))
                    .map(|of| of.to_vec())
                    .unwrap_or_default()
            };
            match def.storage {
                Storage::Column(_) => column_lookup(
                    &self.groups,
                    &self.group_values,
                    "displayName",
                    def,
                    op,
                    text,
                ),
                Storage::MemberId if op == Op::Eq => Some(containing(Uuid::parse_str(text).ok())),
                Storage::MemberUserName if op == Op::Eq => {
                    let user = self.users.by_name.get(text).copied();
                    Some(containing(
                        user.and_then(|s| self.users.get(s)).map(|u| u.id),
                    ))
                }
                Storage::MemberChain if op == Op::Eq => Some(
                    self.users
                        .by_name
                        .get(text)
                        .and_then(|s| self.users.get(*s))
                        .map(|u| self.ancestors(&u.id).into_iter().map(|(s, _)| s).collect())
                        .unwrap_or_default(),
                ),
                Storage::MemberGroupName if op == Op::Eq => {
                    let group = self.groups.by_name.get(text).copied();
                    Some(containing(
                        group.and_then(|s| self.groups.get(s)).map(|g| g.id),
                    ))
                }
                _ => None,
            }
        };
        let found = candidates(&query.filter, &item);
        select(
            &self.groups,
            query,
            found,
            |g| g.attrs.display_name.to_lowercase(),
            |slot, g, f| {
                f(&ViewGroup {
                    inner: self,
                    slot,
                    group: g,
                })
            },
        )
    }
}

/// What a table's own indexes say of `def op text`: the id map for `id`,
/// the name map for the table's name attribute, the value indexes for the
/// rest (`None` for what they do not index).
fn column_lookup<T, U>(
    table: &Table<T>,
    values: &HashMap<&'static str, ValueIndex>,
    name_key: &str,
    def: &'static AttrDef<U>,
    op: Op,
    text: &str,
) -> Option<Vec<Slot>> {
    if def.key == "id" {
        return (op == Op::Eq).then(|| {
            Uuid::parse_str(text)
                .ok()
                .and_then(|id| table.slot(&id))
                .into_iter()
                .collect()
        });
    }
    if def.key == name_key {
        return lookup_names(&table.by_name, op, text);
    }
    if matches!(def.storage, Storage::Column(_)) && UNINDEXED_COLUMNS.contains(&def.key) {
        return None;
    }
    match values.get(def.key) {
        Some(index) => lookup(index, op, text),
        None => lookup(&ValueIndex::new(), op, text),
    }
}

/// The user members of the group in `slot`.
fn user_members(inner: &Inner, slot: Option<Slot>) -> Vec<Slot> {
    slot.and_then(|s| inner.members.get(&s))
        .into_iter()
        .flatten()
        .filter(|m| m.kind == MemberKind::User)
        .filter_map(|m| inner.users.slot(&m.id))
        .collect()
}
