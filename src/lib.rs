//! Roster: a directory server with a SCIM 2.0 face and an LDAP v3 face over
//! one user/group store. See the README's architecture section.

pub mod config;
pub mod directory;
pub mod ldap;
pub mod store;
