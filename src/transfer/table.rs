//! Users as rows of a table (CSV, a spreadsheet): which columns there are,
//! how a row becomes a SCIM User resource (so that it is read and checked
//! exactly as a SCIM request is), and how a user becomes a row again.
//! Headers are matched by SCIM name (`name.givenName`, `emails`) or a common
//! alias (`firstName`, `email`), ignoring case, spaces, `_` and `-`.

use serde_json::{json, Map, Value};

use crate::directory::attributes::{ACCOUNT_USER_URN as ACCOUNT_URN, POSIX_USER_URN as POSIX_URN};
use crate::directory::declared::{Declaration, Declared, Kind, CUSTOM_USER_URN};
use crate::directory::{User, ENTERPRISE_USER_URN};

/// Where a column's value sits in a User resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A top-level string attribute.
    Top(&'static str),
    /// A sub-attribute of `name`.
    Name(&'static str),
    /// The primary email.
    Email,
    /// The work phone number.
    Phone,
    /// The enterprise extension (RFC 7643 §4.3).
    Enterprise(&'static str),
    /// A number of Roster's POSIX extension.
    PosixNumber(&'static str),
    /// A string of Roster's POSIX extension.
    Posix(&'static str),
    /// A switch of Roster's account extension.
    Account(&'static str),
    Active,
    /// A password to set (never exported).
    Password,
    /// The declared user attribute at this position of the declarations.
    Declared(usize),
}

/// A column: its header as exported, other headers it is known by, and
/// where its value goes.
struct Column {
    header: &'static str,
    aliases: &'static [&'static str],
    place: Place,
}

const fn col(header: &'static str, aliases: &'static [&'static str], place: Place) -> Column {
    Column {
        header,
        aliases,
        place,
    }
}

/// Every column a users table can have, in export order.
const COLUMNS: &[Column] = &[
    col(
        "userName",
        &["username", "login", "uid"],
        Place::Top("userName"),
    ),
    col("externalId", &[], Place::Top("externalId")),
    col(
        "name.givenName",
        &["givenname", "firstname", "first"],
        Place::Name("givenName"),
    ),
    col(
        "name.familyName",
        &["familyname", "lastname", "surname", "last", "sn"],
        Place::Name("familyName"),
    ),
    col(
        "name.middleName",
        &["middlename"],
        Place::Name("middleName"),
    ),
    col(
        "displayName",
        &["fullname", "cn"],
        Place::Top("displayName"),
    ),
    col("nickName", &["nickname"], Place::Top("nickName")),
    col("emails", &["email", "mail", "emailaddress"], Place::Email),
    col(
        "phoneNumbers",
        &["phone", "phonenumber", "telephone"],
        Place::Phone,
    ),
    col("title", &["jobtitle"], Place::Top("title")),
    col("userType", &[], Place::Top("userType")),
    col(
        "preferredLanguage",
        &["language"],
        Place::Top("preferredLanguage"),
    ),
    col("locale", &[], Place::Top("locale")),
    col("timezone", &["timezone", "tz"], Place::Top("timezone")),
    col("profileUrl", &[], Place::Top("profileUrl")),
    col("employeeNumber", &[], Place::Enterprise("employeeNumber")),
    col("department", &[], Place::Enterprise("department")),
    col(
        "organization",
        &["company"],
        Place::Enterprise("organization"),
    ),
    col("division", &[], Place::Enterprise("division")),
    col("costCenter", &[], Place::Enterprise("costCenter")),
    col("uidNumber", &[], Place::PosixNumber("uidNumber")),
    col("gidNumber", &[], Place::PosixNumber("gidNumber")),
    col("homeDirectory", &[], Place::Posix("homeDirectory")),
    col("loginShell", &[], Place::Posix("loginShell")),
    col("reportsOnly", &[], Place::Account("reportsOnly")),
    col("active", &["enabled"], Place::Active),
    col("password", &[], Place::Password),
];

/// A header as compared: lower case, without spaces, `_` and `-`.
fn folded(header: &str) -> String {
    header
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The columns of a table, in its order, and the declarations they may
/// name.
pub struct Layout(Vec<Place>, &'static Declared);

/// The declared user attributes a table can hold (all but binary ones).
fn declared_columns(declared: &Declared) -> impl Iterator<Item = (usize, &Declaration)> {
    declared
        .users
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind != Kind::Binary)
}

impl Layout {
    /// Reads a header row; an unknown or repeated header is an error that
    /// names it.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = &'a str>,
        declared: &'static Declared,
    ) -> Result<Layout, String> {
        let mut places = Vec::new();
        for header in headers {
            let f = folded(header.trim());
            let place = COLUMNS
                .iter()
                .find(|c| folded(c.header) == f || c.aliases.contains(&f.as_str()))
                .map(|c| c.place)
                .or_else(|| {
                    declared_columns(declared)
                        .find(|(_, d)| folded(&d.name) == f || folded(&d.ldap) == f)
                        .map(|(i, _)| Place::Declared(i))
                })
                .ok_or_else(|| format!("column {header:?} is not a user attribute"))?;
            if places.contains(&place) {
                return Err(format!("column {header:?} appears twice"));
            }
            places.push(place);
        }
        if !places.contains(&Place::Top("userName")) {
            return Err("a userName column is required".into());
        }
        Ok(Layout(places, declared))
    }

    /// A row as a SCIM User resource; empty cells are left out.
    pub fn resource(&self, cells: &[String]) -> Result<Value, String> {
        let mut user = Map::new();
        user.insert("schemas".into(), json!([crate::scim::resources::USER_URN]));
        for (place, cell) in self.0.iter().zip(cells) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let text = Value::from(cell);
            let section = |user: &mut Map<String, Value>, key: &str| -> Map<String, Value> {
                match user.remove(key) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                }
            };
            match *place {
                Place::Top(key) => {
                    user.insert(key.into(), text);
                }
                Place::Name(key) => {
                    let mut name = section(&mut user, "name");
                    name.insert(key.into(), text);
                    user.insert("name".into(), name.into());
                }
                Place::Email => {
                    user.insert("emails".into(), json!([{"value": cell, "primary": true}]));
                }
                Place::Phone => {
                    user.insert(
                        "phoneNumbers".into(),
                        json!([{"value": cell, "type": "work"}]),
                    );
                }
                Place::Enterprise(key) => {
                    let mut ext = section(&mut user, ENTERPRISE_USER_URN);
                    ext.insert(key.into(), text);
                    user.insert(ENTERPRISE_USER_URN.into(), ext.into());
                }
                Place::PosixNumber(key) => {
                    let n: i64 = cell
                        .parse()
                        .map_err(|_| format!("{key}: {cell:?} is not a number"))?;
                    let mut ext = section(&mut user, POSIX_URN);
                    ext.insert(key.into(), n.into());
                    user.insert(POSIX_URN.into(), ext.into());
                }
                Place::Posix(key) => {
                    let mut ext = section(&mut user, POSIX_URN);
                    ext.insert(key.into(), text);
                    user.insert(POSIX_URN.into(), ext.into());
                }
                Place::Account(key) => {
                    let mut ext = section(&mut user, ACCOUNT_URN);
                    ext.insert(key.into(), switch(key, cell)?.into());
                    user.insert(ACCOUNT_URN.into(), ext.into());
                }
                Place::Active => {
                    user.insert("active".into(), switch("active", cell)?.into());
                }
                Place::Password => {
                    user.insert("password".into(), text);
                }
                Place::Declared(i) => {
                    let Some(d) = self.1.users.get(i) else {
                        continue;
                    };
                    // A list in one cell: values apart by ; or ,.
                    let value = match d.multi_valued {
                        true => cell
                            .split([';', ','])
                            .map(str::trim)
                            .filter(|v| !v.is_empty())
                            .map(Value::from)
                            .collect(),
                        false if d.kind == Kind::Boolean => switch(&d.name, cell)?.into(),
                        false => text,
                    };
                    let mut ext = section(&mut user, CUSTOM_USER_URN);
                    ext.insert(d.name.clone(), value);
                    user.insert(CUSTOM_USER_URN.into(), ext.into());
                }
            }
        }
        Ok(Value::Object(user))
    }
}

/// A yes/no cell.
fn switch(key: &str, cell: &str) -> Result<bool, String> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "y" => Ok(true),
        "false" | "no" | "0" | "n" => Ok(false),
        _ => Err(format!("{key}: {cell:?} is not true or false")),
    }
}

/// The headers an export writes: every column but the password.
pub fn export_headers(declared: &Declared) -> Vec<String> {
    COLUMNS
        .iter()
        .filter(|c| c.place != Place::Password)
        .map(|c| c.header.to_string())
        .chain(declared_columns(declared).map(|(_, d)| d.name.clone()))
        .collect()
}

/// A user as an export row, in [`export_headers`] order.
pub fn export_row(user: &User, declared: &Declared) -> Vec<String> {
    let a = &user.attrs;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let enterprise = |key: &str| a.enterprise(key).unwrap_or_default();
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    COLUMNS
        .iter()
        .filter(|c| c.place != Place::Password)
        .map(|c| match c.place {
            Place::Top("userName") => a.user_name.clone(),
            Place::Top("externalId") => opt(&a.external_id),
            Place::Top("displayName") => opt(&a.display_name),
            Place::Top("nickName") => opt(&a.nick_name),
            Place::Top("title") => opt(&a.title),
            Place::Top("userType") => opt(&a.user_type),
            Place::Top("preferredLanguage") => opt(&a.preferred_language),
            Place::Top("locale") => opt(&a.locale),
            Place::Top("timezone") => opt(&a.timezone),
            Place::Top("profileUrl") => opt(&a.profile_url),
            Place::Top(_) => String::new(),
            Place::Name("givenName") => opt(&a.name.given_name),
            Place::Name("familyName") => opt(&a.name.family_name),
            Place::Name("middleName") => opt(&a.name.middle_name),
            Place::Name(_) => String::new(),
            Place::Email => a.primary_email().unwrap_or_default().to_string(),
            Place::Phone => a
                .phone_numbers
                .first()
                .map(|p| p.value.clone())
                .unwrap_or_default(),
            Place::Enterprise(key) => enterprise(key),
            Place::PosixNumber("uidNumber") => number(a.posix.uid_number),
            Place::PosixNumber("gidNumber") => number(a.posix.gid_number),
            Place::PosixNumber(_) => String::new(),
            Place::Posix("homeDirectory") => opt(&a.posix.home_directory),
            Place::Posix("loginShell") => opt(&a.posix.login_shell),
            Place::Posix(_) => String::new(),
            Place::Account(_) => match a.account.reports_only {
                Some(b) => b.to_string(),
                None => String::new(),
            },
            Place::Active => (user.status == crate::directory::Status::Active).to_string(),
            Place::Password | Place::Declared(_) => String::new(),
        })
        .chain(declared_columns(declared).map(|(_, d)| {
            let values = a
                .extensions
                .get(CUSTOM_USER_URN)
                .and_then(|e| e.get(&d.name));
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match values {
                Some(Value::Array(items)) => items.iter().map(text).collect::<Vec<_>>().join("; "),
                Some(v) => text(v),
                None => String::new(),
            }
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> &'static Declared {
        crate::directory::attributes::Attributes::default().declared
    }

    #[test]
    fn headers_match_by_name_or_alias_and_cells_become_a_resource() {
        let layout = Layout::from_headers(
            [
                "User Name",
                "First Name",
                "last_name",
                "E-mail",
                "uidNumber",
                "active",
            ],
            none(),
        )
        .unwrap();
        let cells: Vec<String> = ["ann", "Ann", "Lee", "ann@example.com", "7001", "no"]
            .map(String::from)
            .to_vec();
        let r = layout.resource(&cells).unwrap();
        assert_eq!(r["userName"], "ann");
        assert_eq!(r["name"], json!({"givenName": "Ann", "familyName": "Lee"}));
        assert_eq!(r["emails"][0]["value"], "ann@example.com");
        assert_eq!(r[POSIX_URN]["uidNumber"], 7001);
        assert_eq!(r["active"], false);
        assert!(Layout::from_headers(["userName", "shoeSize"], none()).is_err());
        assert!(
            Layout::from_headers(["email"], none()).is_err(),
            "userName is required"
        );
        let bad = Layout::from_headers(["userName", "uidNumber"], none()).unwrap();
        assert!(bad.resource(&["x".into(), "seven".into()]).is_err());
    }
}
