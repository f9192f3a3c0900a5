//! The directory's side of declared attributes (`declared`): every write's
//! declared values checked, unique ones looked up, binary ones stored, and
//! the binary values read back for the protocols that serve them.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::attributes::{AttrDef, Attributes};
use super::declared::{blob_digest, match_values, Blob, Declared, Kind, Resource, Uniqueness};
use super::error::DirectoryError;
use super::model::{User, UserAttrs};
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
        let attrs = self.attributes();
        let taken_by_other = |ids: Vec<Uuid>| ids.iter().any(|id| Some(*id) != me);
        match resource {
            Resource::User => {
                for (def, text) in unique_values(attrs.users, resource, extensions) {
                    let ids = self
                        .store
                        .users_with(def.key, &def.normalize(&text), 2)
                        .await?;
                    if taken_by_other(ids) {
                        return Err(DirectoryError::Uniqueness(def.key.to_string()));
                    }
                }
            }
            Resource::Group => {
                for (def, text) in unique_values(attrs.groups, resource, extensions) {
                    let filter = Filter::Compare(def, Op::Eq, QueryValue::Str(text));
                    let query = Query::new(filter, 0, 2);
                    if taken_by_other(self.store.group_ids(&query).await?) {
                        return Err(DirectoryError::Uniqueness(def.key.to_string()));
                    }
                }
            }
        }
        Ok(())
    }

    /// A user's values of unique declared attributes, as `(path,
    /// normalised value)`: what two accounts of one batch may not share.
    pub(super) fn declared_unique_values(&self, attrs: &UserAttrs) -> Vec<(String, String)> {
        unique_values(self.attributes().users, Resource::User, &attrs.extensions)
            .into_iter()
            .map(|(def, text)| (def.key.to_string(), def.normalize(&text)))
            .collect()
    }

    /// The binary value of `user`'s declared attribute `name` (its digest,
    /// media type and bytes), `None` when the user has none.
    pub async fn user_binary(&self, user: &User, name: &str) -> Result<Option<Blob>> {
        let Some(d) = self
            .declared()
            .users
            .iter()
            .find(|d| d.kind == Kind::Binary && d.name.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        let Some(digest) = blob_digest(&user.attrs.extensions, Resource::User, &d.name) else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_blob(&digest)
            .await?
            .map(|(media_type, bytes)| Blob {
                digest,
                media_type,
                bytes,
            }))
    }
}

/// The values a record's `extensions` give its unique declared attributes,
/// with each attribute's definition in `table`.
fn unique_values<T>(
    table: &'static [AttrDef<T>],
    resource: Resource,
    extensions: &Map<String, Value>,
) -> Vec<(&'static AttrDef<T>, String)> {
    let values = extensions.get(resource.urn());
    table
        .iter()
        .filter_map(|def| def.declared.map(|d| (def, d)))
        .filter(|(_, d)| d.resource == resource && d.uniqueness != Uniqueness::None)
        .flat_map(|(def, d)| {
            match_values(d.kind, values.and_then(|v| v.get(&d.name)))
                .into_iter()
                .map(move |text| (def, text))
        })
        .collect()
}
