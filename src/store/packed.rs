//! A user as the read model keeps it: the id, version and userName in
//! place, everything else packed as MessagePack bytes and unpacked when a
//! record is read or evaluated. A `User` struct with its strings costs
//! about 1.5 KiB; packed, a typical user takes 300–400 bytes, which is what
//! lets the view hold 100,000 users in well under 100 MiB.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::directory::{Logins, Meta, Status, Timestamp, User, UserAttrs};

/// One user, packed.
pub struct PackedUser {
    pub id: Uuid,
    pub version: i64,
    /// The userName's length (2 bytes, little-endian), the userName, then
    /// the MessagePack of [`Fields`].
    bytes: Box<[u8]>,
}

/// What is packed, besides the id, version and userName. Short field names:
/// MessagePack writes them with every record.
#[derive(Serialize, Deserialize)]
struct Fields<A> {
    #[serde(rename = "a")]
    attrs: A,
    #[serde(rename = "s")]
    status: Status,
    #[serde(rename = "c")]
    created: i64,
    #[serde(rename = "m")]
    modified: i64,
    #[serde(rename = "cb")]
    created_by: String,
    #[serde(rename = "mb")]
    modified_by: String,
    #[serde(rename = "p")]
    password_changed: Option<i64>,
    #[serde(rename = "l", default, skip_serializing_if = "Logins::is_empty")]
    logins: Logins,
}

impl PackedUser {
    /// Packs `user` (its `groups` are not kept: the view holds memberships).
    pub fn pack(user: &User) -> PackedUser {
        let name = user.attrs.user_name.as_bytes();
        let len = u16::try_from(name.len()).expect("userName is bounded well below 64 KiB");
        let mut bytes = Vec::with_capacity(2 + name.len() + 256);
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(name);
        // The userName is in the header; the packed attributes go without it.
        let attrs = UserAttrs {
            user_name: String::new(),
            ..user.attrs.clone()
        };
        let fields = Fields {
            attrs,
            status: user.status,
            created: user.meta.created.0,
            modified: user.meta.modified.0,
            created_by: user.meta.created_by.clone(),
            modified_by: user.meta.modified_by.clone(),
            password_changed: user.password_changed.map(|t| t.0),
            logins: user.logins.clone(),
        };
        rmp_serde::encode::write_named(&mut bytes, &fields)
            .expect("a user always encodes as MessagePack");
        PackedUser {
            id: user.id,
            version: user.meta.version,
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// The userName, as stored (not lower-cased).
    pub fn user_name(&self) -> &str {
        let len = u16::from_le_bytes([self.bytes[0], self.bytes[1]]) as usize;
        std::str::from_utf8(&self.bytes[2..2 + len]).expect("packed from a String")
    }

    /// The user, without its groups.
    pub fn unpack(&self) -> User {
        let name = self.user_name();
        let rest = &self.bytes[2 + name.len()..];
        let fields: Fields<UserAttrs> =
            rmp_serde::from_slice(rest).expect("packed by PackedUser::pack");
        let mut attrs = fields.attrs;
        attrs.user_name = name.to_string();
        User {
            id: self.id,
            attrs,
            status: fields.status,
            meta: Meta {
                created: Timestamp(fields.created),
                modified: Timestamp(fields.modified),
                version: self.version,
                created_by: fields.created_by,
                modified_by: fields.modified_by,
            },
            groups: Vec::new(),
            password_changed: fields.password_changed.map(Timestamp),
            logins: fields.logins,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{MultiValue, Name, PosixAccount};

    #[test]
    fn a_user_unpacks_as_it_was_packed() {
        let mut extensions = serde_json::Map::new();
        extensions.insert(
            "urn:example:ext".into(),
            serde_json::json!({"n": 1.5, "list": [true, null, "x"], "deep": {"k": -3}}),
        );
        let user = User {
            id: Uuid::new_v4(),
            attrs: UserAttrs {
                user_name: "Łukasz.Ó".into(),
                external_id: Some("ext-1".into()),
                name: Name {
                    given_name: Some("Łukasz".into()),
                    family_name: Some("O'Brien-Ó".into()),
                    ..Name::default()
                },
                display_name: Some("Łukasz Ó".into()),
                emails: vec![MultiValue {
                    value: "l@example.com".into(),
                    kind: Some("work".into()),
                    primary: Some(true),
                    display: None,
                }],
                addresses: vec![serde_json::json!({"locality": "Kraków", "primary": true})
                    .as_object()
                    .cloned()
                    .unwrap()],
                extensions,
                posix: PosixAccount {
                    uid_number: Some(100_001),
                    gid_number: Some(-1),
                    home_directory: Some("/home/l".into()),
                    ..PosixAccount::default()
                },
                active_unassigned: true,
                ..UserAttrs::default()
            },
            status: Status::Disabled,
            meta: Meta {
                created: Timestamp(1_700_000_000_123),
                modified: Timestamp(1_700_000_000_456),
                version: 7,
                created_by: "cn=okta,cn=scim".into(),
                modified_by: "uid=admin,ou=people,dc=example,dc=com".into(),
            },
            groups: Vec::new(),
            password_changed: Some(Timestamp(1_700_000_000_789)),
            logins: Logins {
                failed: 3,
                last_failure: Some(Timestamp(1_700_000_001_000)),
                locked_at: None,
                last_success: Some(Timestamp(1_700_000_000_900)),
                revalidated: None,
                totp_enrolled: Some(Timestamp(1_700_000_000_950)),
            },
        };
        let packed = PackedUser::pack(&user);
        assert_eq!(packed.user_name(), "Łukasz.Ó");
        assert_eq!(packed.unpack(), user);
        let bare = User {
            attrs: UserAttrs {
                user_name: "b".into(),
                ..UserAttrs::default()
            },
            password_changed: None,
            ..user
        };
        assert_eq!(PackedUser::pack(&bare).unpack(), bare);
    }
}
