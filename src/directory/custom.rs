//! The directory's side of declared attributes (`declared`): every write's
//! declared values checked, unique ones looked up, binary ones stored, and
//! the binary values read back for the protocols that serve them.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::attributes::{by_key, Attributes};
use super::declared::{blob_digest, Declaration, Declared, Kind, Resource, Uniqueness};
use super::error::DirectoryError;
use super::model::UserAttrs;
use super::query::{Filter, Op, Query, Value as QueryValue};
use super::Directory;

type Result<T> = std::result::Result<T, DirectoryError>;

impl Directory {
    /// The attribute tables in force (built-in and declared).
    pub fn attributes(&self) -> Attributes {
        self.store.attributes()
    }

    /// The declarations in force.
    pub fn declared(&self) -> &'static Declared {
        self.store.attributes().declared
    }

    /// Checks the declared values a write brings (`previous`: what the
    /// record's extensions held), keeping binary values in the store and
    /// holding unique ones to their uniqueness (`me`: the record written).
    pub(super) async fn checked_declared(
        &self,
        resource: Resource,
        extensions: &mut Map<String, Value>,
        previous: Option<&Map<String, Value>>,
        me: Option<Uuid>,
    ) -> Result<()> {
        let blobs = self.declared().check(resource, extensions, previous)?;
        self.declared_unique(resource, extensions, me).await?;
        for blob in &blobs {
            self.store.put_blob(blob).await?;
        }
        Ok(())
    }

    /// Fails with `Uniqueness` when another record has a value of a
    /// declared attribute whose uniqueness is `server` or `global`.
    async fn declared_unique(
        &self,
        resource: Resource,
        extensions: &Map<String, Value>,
        me: Option<Uuid>,
    ) -> Result<()> {
        let unique = |d: &&Declaration| d.uniqueness != Uniqueness::None;
        let Some(values) = extensions.get(resource.urn()).and_then(Value::as_object) else {
            return Ok(());
        };
        let attrs = self.attributes();
        for d in self.declared().of(resource).iter().filter(unique) {
            let texts = super::declared::match_values(d.kind, values.get(&d.name));
            for text in texts {
                let taken = match resource {
                    Resource::User => {
                        let Some(def) = by_key(attrs.users, &d.path) else {
                            continue;
                        };
                        let ids = self
                            .store
                            .users_with(def.key, &def.normalize(&text), 2)
                            .await?;
                        ids.iter().any(|id| Some(*id) != me)
                    }
                    Resource::Group => {
                        let Some(def) = by_key(attrs.groups, &d.path) else {
                            continue;
                        };
                        let filter = Filter::Compare(def, Op::Eq, QueryValue::Str(text));
                        let page = self
                            .store
                            .list_groups(&Query::new(filter, 0, 2), false)
                            .await?;
                        page.items.iter().any(|g| Some(g.id) != me)
                    }
                };
                if taken {
                    return Err(DirectoryError::Uniqueness(d.path.clone()));
                }
            }
        }
        Ok(())
    }

    /// A user's values of unique declared attributes, as `(path,
    /// normalised value)`: what two accounts of one batch may not share.
    pub(super) fn declared_unique_values(&self, attrs: &UserAttrs) -> Vec<(String, String)> {
        let table = self.attributes().users;
        self.declared()
            .users
            .iter()
            .filter(|d| d.uniqueness != Uniqueness::None)
            .filter_map(|d| by_key(table, &d.path).map(|def| (d, def)))
            .flat_map(|(d, def)| {
                let values = attrs
                    .extensions
                    .get(d.resource.urn())
                    .and_then(|e| e.get(&d.name));
                super::declared::match_values(d.kind, values)
                    .into_iter()
                    .map(move |v| (d.path.clone(), def.normalize(&v)))
            })
            .collect()
    }

    /// The binary value of declared attribute `name` of user `id`: its
    /// media type and bytes, `None` when the user has none.
    pub async fn user_binary(&self, id: Uuid, name: &str) -> Result<Option<(String, Vec<u8>)>> {
        let user = self.get_user(id).await?;
        let Some(d) = self
            .declared()
            .users
            .iter()
            .find(|d| d.kind == Kind::Binary && d.name.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        match blob_digest(&user.attrs.extensions, Resource::User, &d.name) {
            Some(digest) => Ok(self.store.get_blob(&digest).await?),
            None => Ok(None),
        }
    }
}
