//! Declared attributes: the extra User and Group attributes an operator
//! lists in a declaration file (`profile.attributes`), served over SCIM in
//! Roster's custom extension and over LDAP under their own names, like
//! built-in attributes.
//!
//! A record keeps its declared values in `extensions[CUSTOM_*_URN]`, one
//! JSON value per attribute under its declared name. Values are checked
//! and normalised here, on every write, whichever protocol sent them.

use std::path::Path;

use base64::Engine;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::DirectoryError;
use super::time::Timestamp;

/// Roster's extension of the SCIM User resource holding declared attributes.
pub const CUSTOM_USER_URN: &str = "urn:roster:params:scim:schemas:extension:custom:1.0:User";
/// Roster's extension of the SCIM Group resource holding declared attributes.
pub const CUSTOM_GROUP_URN: &str = "urn:roster:params:scim:schemas:extension:custom:1.0:Group";

/// Most values one multi-valued declared attribute may hold by default.
const DEFAULT_MAX_VALUES: usize = 100;
/// Longest string value by default (characters).
const DEFAULT_MAX_LENGTH: usize = 1024;

/// A declared attribute's SCIM type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    String,
    Boolean,
    Integer,
    Decimal,
    DateTime,
    Reference,
    Binary,
}

impl Kind {
    /// The name SCIM's /Schemas uses.
    pub fn scim_name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Decimal => "decimal",
            Kind::DateTime => "dateTime",
            Kind::Reference => "reference",
            Kind::Binary => "binary",
        }
    }
}

/// RFC 7643 §2.4 uniqueness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// Which resource type a declaration extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
}

impl Resource {
    /// The SCIM extension URN holding the resource's declared values.
    pub fn urn(self) -> &'static str {
        match self {
            Resource::User => CUSTOM_USER_URN,
            Resource::Group => CUSTOM_GROUP_URN,
        }
    }
}

/// One declaration as the file states it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct Spec {
    name: String,
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(default)]
    description: String,
    #[serde(default)]
    multi_valued: bool,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    case_exact: bool,
    #[serde(default)]
    uniqueness: Uniqueness,
    #[serde(default)]
    canonical_values: Vec<String>,
    pattern: Option<String>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    max_values: Option<usize>,
    #[serde(default)]
    indexed: bool,
    ldap: Option<String>,
    oid: Option<String>,
    #[serde(default)]
    reference_types: Vec<String>,
}

/// The declaration file: `[[user]]` and `[[group]]` tables (TOML), or
/// `{"user": [...], "group": [...]}` (JSON).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    user: Vec<Spec>,
    #[serde(default)]
    group: Vec<Spec>,
}

/// A declared attribute, checked and compiled.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub resource: Resource,
    /// The SCIM name (the key in the extension object).
    pub name: String,
    /// The full SCIM path: the extension URN, a colon, the name.
    pub path: String,
    pub kind: Kind,
    pub description: String,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pattern: Option<Regex>,
    pub pattern_text: Option<String>,
    pub min_length: Option<usize>,
    pub max_length: usize,
    pub max_values: usize,
    /// Kept in the index table (and the read model's index): filtered by
    /// an index lookup rather than by looking at every record.
    pub indexed: bool,
    /// The LDAP attribute name.
    pub ldap: String,
    /// The LDAP attribute type's OID.
    pub oid: String,
    pub reference_types: Vec<String>,
}

/// A binary value a write brings: stored apart from the record, which
/// keeps only its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// SHA-256 of the bytes, hex: the key the blob is stored under.
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// The OID arc of declared attribute types: Roster's arc (see
/// `ldap::schema`), `.2`, then a number derived from the name.
const OID_ARC: &str = "2.25.300838043137499866577779599087285805970.2";

/// Every declaration in force, and the bound on binary values.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub users: Vec<Declaration>,
    pub groups: Vec<Declaration>,
    /// `profile.max_binary_bytes`.
    pub max_binary_bytes: usize,
}

/// LDAP and SCIM names declarations may not take: the built-in attributes.
pub type Taken<'a> = &'a dyn Fn(Resource, &str) -> bool;

impl Declared {
    /// Reads and checks the declaration file at `path` (`.toml` or `.json`).
    /// `taken` says whether a name (SCIM or LDAP) is already a built-in
    /// attribute's.
    pub fn load(path: &Path, max_binary_bytes: usize, taken: Taken) -> Result<Declared, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("profile.attributes: cannot read {}: {e}", path.display()))?;
        let file: File = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text).map_err(|e| e.to_string()),
            _ => figment::Figment::from(
                <figment::providers::Toml as figment::providers::Format>::string(&text),
            )
            .extract()
            .map_err(|e| e.to_string()),
        }
        .map_err(|e| format!("profile.attributes: {}: {e}", path.display()))?;
        Declared::from_specs(file, max_binary_bytes, taken)
            .map_err(|e| format!("profile.attributes: {}: {e}", path.display()))
    }

    fn from_specs(file: File, max_binary_bytes: usize, taken: Taken) -> Result<Declared, String> {
        let compile = |resource: Resource, specs: Vec<Spec>| -> Result<Vec<Declaration>, String> {
            let mut out: Vec<Declaration> = Vec::new();
            for spec in specs {
                let d = Declaration::compile(resource, spec)?;
                if taken(resource, &d.name) || taken(resource, &d.ldap) {
                    return Err(format!(
                        "{}: the name is a built-in attribute's (SCIM or LDAP)",
                        d.name
                    ));
                }
                if out.iter().any(|o| {
                    o.name.eq_ignore_ascii_case(&d.name) || o.ldap.eq_ignore_ascii_case(&d.ldap)
                }) {
                    return Err(format!("{}: declared twice", d.name));
                }
                out.push(d);
            }
            Ok(out)
        };
        Ok(Declared {
            users: compile(Resource::User, file.user)?,
            groups: compile(Resource::Group, file.group)?,
            max_binary_bytes,
        })
    }

    /// The declarations of one resource type.
    pub fn of(&self, resource: Resource) -> &[Declaration] {
        match resource {
            Resource::User => &self.users,
            Resource::Group => &self.groups,
        }
    }

    /// Checks and normalises the declared values a write brings in
    /// `extensions[urn]`, given what the record held before (`previous`:
    /// binary values a write does not restate are kept, as a password
    /// is). Returns the blobs to store.
    pub fn check(
        &self,
        resource: Resource,
        extensions: &mut Map<String, Value>,
        previous: Option<&Map<String, Value>>,
    ) -> Result<Vec<Blob>, DirectoryError> {
        let urn = resource.urn();
        let key = extensions
            .keys()
            .find(|k| k.eq_ignore_ascii_case(urn))
            .cloned();
        let sent = match key.and_then(|k| extensions.remove(&k)) {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(DirectoryError::invalid(urn, "must be an object")),
        };
        let before = previous.and_then(|p| p.get(urn)).and_then(Value::as_object);
        let mut kept = Map::new();
        let mut blobs = Vec::new();
        // Binary attributes the write empties (`""`): not kept from before.
        let mut emptied: Vec<&str> = Vec::new();
        let declarations = self.of(resource);
        for (name, value) in sent {
            let Some(d) = declarations
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(&name))
            else {
                return Err(DirectoryError::invalid(
                    format!("{urn}:{name}"),
                    "is not a declared attribute",
                ));
            };
            if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            if d.kind == Kind::Binary && value.as_str().is_some_and(|s| s.trim().is_empty()) {
                emptied.push(&d.name);
                continue;
            }
            let value = match d.kind {
                Kind::Binary => {
                    let (value, blob) = d.binary(&value, self.max_binary_bytes, before)?;
                    blobs.extend(blob);
                    value
                }
                _ => d.value(value)?,
            };
            kept.insert(d.name.clone(), value);
        }
        for d in declarations {
            if d.kind == Kind::Binary
                && !kept.contains_key(&d.name)
                && !emptied.contains(&d.name.as_str())
            {
                if let Some(v) = before.and_then(|b| b.get(&d.name)) {
                    kept.insert(d.name.clone(), v.clone());
                }
            }
            if d.required && !kept.contains_key(&d.name) {
                return Err(DirectoryError::invalid(&d.path, "is required"));
            }
        }
        // Values of attributes no longer declared stay with the record,
        // unserved, until a declaration brings them back.
        if let Some(before) = before {
            for (name, v) in before {
                if !declarations.iter().any(|d| &d.name == name) {
                    kept.insert(name.clone(), v.clone());
                }
            }
        }
        if !kept.is_empty() {
            extensions.insert(urn.to_string(), Value::Object(kept));
        }
        Ok(blobs)
    }

    /// The declared values a record serves: those of attributes still
    /// declared, binary ones left out (they are served by URL).
    pub fn served(
        &self,
        resource: Resource,
        extensions: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(Value::Object(values)) = extensions.get(resource.urn()) {
            for d in self.of(resource) {
                if d.kind == Kind::Binary {
                    continue;
                }
                if let Some(v) = values.get(&d.name) {
                    out.insert(d.name.clone(), v.clone());
                }
            }
        }
        out
    }
}

/// The digest under which a record's binary attribute `name` is stored.
pub fn blob_digest(
    extensions: &Map<String, Value>,
    resource: Resource,
    name: &str,
) -> Option<String> {
    extensions
        .get(resource.urn())?
        .get(name)?
        .get("sha256")?
        .as_str()
        .map(str::to_string)
}

/// A value's strings as filters compare them (booleans as `true`/`false`,
/// times as GeneralizedTime), for the attribute map.
pub fn match_values(kind: Kind, value: Option<&Value>) -> Vec<String> {
    let one = |v: &Value| -> Option<String> {
        match (kind, v) {
            (Kind::DateTime, Value::String(s)) => {
                Timestamp::parse_rfc3339(s).map(Timestamp::generalized)
            }
            (_, Value::String(s)) => Some(s.clone()),
            (_, Value::Bool(b)) => Some(b.to_string()),
            (_, Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
    }
}

/// A name RFC 7643 §2.1 allows (ATTRNAME), also a valid LDAP descriptor
/// when it has no underscore.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 64
}

/// A stable number for a name: the first 64 bits of its SHA-256.
fn name_number(resource: Resource, name: &str) -> u64 {
    let digest = Sha256::digest(format!("{}:{}", resource.urn(), name.to_lowercase()));
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

impl Declaration {
    fn compile(resource: Resource, s: Spec) -> Result<Declaration, String> {
        let name = s.name.clone();
        if !valid_name(&name) {
            return Err(format!(
                "{name:?}: a name starts with a letter and holds letters, digits, - and _"
            ));
        }
        let ldap = s.ldap.unwrap_or_else(|| name.replace('_', "-"));
        let ldap_ok = ldap.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && ldap.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ldap_ok {
            return Err(format!(
                "{name}: ldap name {ldap:?} is not an LDAP descriptor"
            ));
        }
        let pattern = match &s.pattern {
            Some(p) => Some(
                Regex::new(&format!("^(?:{p})$")).map_err(|e| format!("{name}: pattern: {e}"))?,
            ),
            None => None,
        };
        let textual = matches!(s.kind, Kind::String | Kind::Reference);
        if (pattern.is_some() || s.min_length.is_some() || s.max_length.is_some()) && !textual {
            return Err(format!(
                "{name}: pattern and length bounds apply to strings and references"
            ));
        }
        if !s.canonical_values.is_empty() && !matches!(s.kind, Kind::String | Kind::Integer) {
            return Err(format!(
                "{name}: canonical values apply to strings and integers"
            ));
        }
        if s.kind == Kind::Integer {
            if let Some(bad) = s
                .canonical_values
                .iter()
                .find(|v| v.parse::<i64>().is_err())
            {
                return Err(format!("{name}: canonical value {bad:?} is not an integer"));
            }
        }
        if s.kind == Kind::Binary
            && (s.indexed || s.uniqueness != Uniqueness::None || s.multi_valued)
        {
            return Err(format!(
                "{name}: a binary attribute is single-valued and neither indexed nor unique"
            ));
        }
        let oid = match s.oid {
            Some(oid)
                if oid
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                oid
            }
            Some(oid) => return Err(format!("{name}: oid {oid:?} is not a numeric OID")),
            None => format!("{OID_ARC}.{}", name_number(resource, &name)),
        };
        Ok(Declaration {
            resource,
            path: format!("{}:{}", resource.urn(), name),
            name,
            kind: s.kind,
            description: s.description,
            multi_valued: s.multi_valued,
            required: s.required,
            case_exact: s.case_exact,
            // A unique attribute is looked up at every write.
            indexed: s.indexed || s.uniqueness != Uniqueness::None,
            uniqueness: s.uniqueness,
            canonical_values: s.canonical_values,
            pattern,
            pattern_text: s.pattern,
            min_length: s.min_length,
            max_length: s.max_length.unwrap_or(DEFAULT_MAX_LENGTH),
            max_values: s.max_values.unwrap_or(DEFAULT_MAX_VALUES),
            ldap,
            oid,
            reference_types: if s.reference_types.is_empty() && s.kind == Kind::Reference {
                vec!["external".into()]
            } else {
                s.reference_types
            },
        })
    }

    fn invalid(&self, detail: impl Into<String>) -> DirectoryError {
        DirectoryError::invalid(&self.path, detail)
    }

    /// A sent value checked against the declaration and normalised.
    fn value(&self, value: Value) -> Result<Value, DirectoryError> {
        match (self.multi_valued, value) {
            (true, Value::Array(items)) => {
                if items.len() > self.max_values {
                    return Err(self.invalid(format!("holds at most {} values", self.max_values)));
                }
                let mut out: Vec<Value> = Vec::new();
                for item in items {
                    let v = self.scalar(item)?;
                    // A set: a repeated value is kept once.
                    if !out.iter().any(|o| self.same(o, &v)) {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }
            (true, single) => Ok(Value::Array(vec![self.scalar(single)?])),
            (false, Value::Array(_)) => Err(self.invalid("is single-valued")),
            (false, single) => self.scalar(single),
        }
    }

    fn same(&self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::String(x), Value::String(y)) if !self.case_exact => {
                x.to_lowercase() == y.to_lowercase()
            }
            _ => a == b,
        }
    }

    /// One value.
    fn scalar(&self, value: Value) -> Result<Value, DirectoryError> {
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.trim().to_string()),
            _ => None,
        };
        match self.kind {
            Kind::String | Kind::Reference => {
                let s = match &value {
                    Value::String(s) => s.clone(),
                    // A number or boolean where a string is declared (a
                    // spreadsheet cell) is taken as its text.
                    Value::Number(n) if self.kind == Kind::String => n.to_string(),
                    Value::Bool(b) if self.kind == Kind::String => b.to_string(),
                    other => return Err(self.invalid(format!("must be a string, not {other}"))),
                };
                self.string(s).map(Value::String)
            }
            Kind::Boolean => match (&value, text(&value).map(|s| s.to_lowercase())) {
                (Value::Bool(b), _) => Ok(Value::Bool(*b)),
                (_, Some(s)) if s == "true" => Ok(Value::Bool(true)),
                (_, Some(s)) if s == "false" => Ok(Value::Bool(false)),
                _ => Err(self.invalid(format!("must be a boolean, not {value}"))),
            },
            Kind::Integer => {
                let n = match &value {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| self.invalid(format!("must be a whole number, not {value}")))?;
                if !self.canonical_values.is_empty()
                    && !self.canonical_values.iter().any(|c| c.parse() == Ok(n))
                {
                    return Err(self.invalid(format!(
                        "must be one of {} (canonical values)",
                        self.canonical_values.join(", ")
                    )));
                }
                Ok(Value::from(n))
            }
            Kind::Decimal => {
                let n = match &value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|n| n.is_finite())
                .ok_or_else(|| self.invalid(format!("must be a decimal number, not {value}")))?;
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| self.invalid("must be a finite number"))
            }
            Kind::DateTime => {
                let t = text(&value)
                    .and_then(|s| Timestamp::parse_rfc3339(&s))
                    .ok_or_else(|| {
                        self.invalid(format!("must be an RFC 3339 date-time, not {value}"))
                    })?;
                Ok(Value::String(t.rfc3339()))
            }
            Kind::Binary => Err(self.invalid("is binary")),
        }
    }

    /// A string value held to the canonical values, pattern and lengths.
    fn string(&self, s: String) -> Result<String, DirectoryError> {
        let length = s.chars().count();
        if length > self.max_length {
            return Err(self.invalid(format!("is longer than {} characters", self.max_length)));
        }
        if let Some(min) = self.min_length {
            if length < min {
                return Err(self.invalid(format!("is shorter than {min} characters")));
            }
        }
        if s.chars().any(char::is_control) {
            return Err(self.invalid("holds control characters"));
        }
        if !self.canonical_values.is_empty() {
            let found = self
                .canonical_values
                .iter()
                .find(|c| match self.case_exact {
                    true => **c == s,
                    false => c.to_lowercase() == s.to_lowercase(),
                });
            return match found {
                Some(c) => Ok(c.clone()),
                None => Err(self.invalid(format!(
                    "must be one of {} (canonical values)",
                    self.canonical_values.join(", ")
                ))),
            };
        }
        if let Some(p) = &self.pattern {
            if !p.is_match(&s) {
                return Err(self.invalid(format!(
                    "does not match the pattern {}",
                    self.pattern_text.as_deref().unwrap_or_default()
                )));
            }
        }
        Ok(s)
    }

    /// A binary value: base64 text (RFC 7643 §2.3.6) decoded, bounded, and
    /// recognised as PNG, JPEG, GIF or WebP; the record keeps its digest.
    /// A client restating the descriptor it was shown keeps the value.
    fn binary(
        &self,
        value: &Value,
        max: usize,
        before: Option<&Map<String, Value>>,
    ) -> Result<(Value, Option<Blob>), DirectoryError> {
        if value.is_object() {
            return match before.and_then(|b| b.get(&self.name)) {
                Some(v) if v == value => Ok((v.clone(), None)),
                _ => Err(self.invalid("must be base64 text")),
            };
        }
        let Value::String(text) = value else {
            return Err(self.invalid("must be base64 text"));
        };
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        // A data: URI is accepted for the value it carries.
        let cleaned = match cleaned.split_once(";base64,") {
            Some((head, rest)) if head.starts_with("data:") => rest.to_string(),
            _ => cleaned,
        };
        if cleaned.len() / 4 * 3 > max + 3 {
            return Err(self.invalid(format!(
                "is larger than {max} bytes (profile.max_binary_bytes)"
            )));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|_| self.invalid("must be base64 text"))?;
        if bytes.len() > max {
            return Err(self.invalid(format!(
                "is larger than {max} bytes (profile.max_binary_bytes)"
            )));
        }
        let media_type = image_type(&bytes)
            .ok_or_else(|| self.invalid("must be a PNG, JPEG, GIF or WebP image"))?;
        let digest = digest(&bytes);
        let descriptor = serde_json::json!({
            "sha256": digest,
            "type": media_type,
            "size": bytes.len(),
        });
        Ok((
            descriptor,
            Some(Blob {
                digest,
                media_type: media_type.to_string(),
                bytes,
            }),
        ))
    }
}

/// The SHA-256 of `bytes`, hex: the key a binary value is kept under.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The image type of `bytes` by their signature.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(toml: &str) -> Result<Declared, String> {
        let file: File = figment::Figment::from(
            <figment::providers::Toml as figment::providers::Format>::string(toml),
        )
        .extract()
        .map_err(|e| e.to_string())?;
        Declared::from_specs(file, 1000, &|_, n| n.eq_ignore_ascii_case("title"))
    }

    #[test]
    fn values_are_held_to_their_declaration() {
        let d = declared(
            r#"
            [[user]]
            name = "agentExtension"
            type = "string"
            pattern = "[0-9]{3}"
            [[user]]
            name = "callMode"
            type = "string"
            canonical_values = ["automatic", "manual"]
            [[user]]
            name = "tags"
            type = "string"
            multi_valued = true
            "#,
        )
        .unwrap();
        let check = |v: Value| {
            let mut ext = Map::new();
            ext.insert(CUSTOM_USER_URN.into(), v);
            d.check(Resource::User, &mut ext, None).map(|_| ext)
        };
        let ok = check(serde_json::json!({"agentextension": "123", "callMode": "MANUAL", "tags": ["a", "A", "b"]})).unwrap();
        assert_eq!(
            ok[CUSTOM_USER_URN],
            serde_json::json!({"agentExtension": "123", "callMode": "manual", "tags": ["a", "b"]})
        );
        let e = check(serde_json::json!({"agentExtension": "1234"})).unwrap_err();
        assert!(e.to_string().contains("pattern"), "{e}");
        let e = check(serde_json::json!({"callMode": "sometimes"})).unwrap_err();
        assert!(e.to_string().contains("canonical"), "{e}");
        let e = check(serde_json::json!({"nope": 1})).unwrap_err();
        assert!(e.to_string().contains("not a declared attribute"), "{e}");
    }

    #[test]
    fn bad_declarations_are_refused_with_the_reason() {
        assert!(declared("[[user]]\nname = \"title\"\ntype = \"string\"")
            .unwrap_err()
            .contains("built-in"));
        assert!(declared("[[user]]\nname = \"1x\"\ntype = \"string\"")
            .unwrap_err()
            .contains("starts with a letter"));
        assert!(declared("[[user]]\nname = \"x\"\ntype = \"text\"").is_err());
        assert!(
            declared("[[user]]\nname = \"x\"\ntype = \"boolean\"\npattern = \"a\"")
                .unwrap_err()
                .contains("pattern")
        );
    }

    #[test]
    fn an_image_is_stored_by_digest_and_kept_when_not_restated() {
        let d = declared("[[user]]\nname = \"picture\"\ntype = \"binary\"\nldap = \"jpegPhoto\"")
            .unwrap();
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nrest");
        let mut ext = Map::new();
        ext.insert(
            CUSTOM_USER_URN.into(),
            serde_json::json!({ "picture": png }),
        );
        let blobs = d.check(Resource::User, &mut ext, None).unwrap();
        assert_eq!(blobs.len(), 1);
        assert_eq!(blobs[0].media_type, "image/png");
        let mut again = Map::new();
        let kept = d.check(Resource::User, &mut again, Some(&ext)).unwrap();
        assert!(kept.is_empty());
        assert_eq!(again, ext);
        let mut big = Map::new();
        let huge = base64::engine::general_purpose::STANDARD.encode([0u8; 2000]);
        big.insert(
            CUSTOM_USER_URN.into(),
            serde_json::json!({ "picture": huge }),
        );
        assert!(d
            .check(Resource::User, &mut big, None)
            .unwrap_err()
            .to_string()
            .contains("larger"));
    }
}
