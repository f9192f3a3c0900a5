//! Checks on values clients write, shared by every protocol.

use super::error::DirectoryError;
use super::model::{GroupAttrs, MultiValue, UserAttrs};
use super::password::MAX_PASSWORD_BYTES;

/// Longest userName or group displayName, in characters.
const MAX_NAME_CHARS: usize = 256;
/// Longest other string value, in characters.
const MAX_VALUE_CHARS: usize = 2048;
/// Most values of one multi-valued attribute.
const MAX_VALUES: usize = 100;

type Result<T> = std::result::Result<T, DirectoryError>;

fn name(attribute: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(DirectoryError::invalid(attribute, "must not be empty"));
    }
    if v.chars().count() > MAX_NAME_CHARS {
        return Err(DirectoryError::invalid(
            attribute,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(DirectoryError::invalid(
            attribute,
            "must not contain control characters",
        ));
    }
    Ok(v.to_string())
}

fn text(attribute: &str, value: &Option<String>) -> Result<()> {
    if let Some(v) = value {
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(DirectoryError::invalid(
                attribute,
                format!("must be at most {MAX_VALUE_CHARS} characters"),
            ));
        }
        if v.contains('\0') {
            return Err(DirectoryError::invalid(attribute, "must not contain NUL"));
        }
    }
    Ok(())
}

fn multi(attribute: &str, values: &[MultiValue]) -> Result<()> {
    if values.len() > MAX_VALUES {
        return Err(DirectoryError::invalid(
            attribute,
            format!("at most {MAX_VALUES} values"),
        ));
    }
    if values.iter().filter(|v| v.primary == Some(true)).count() > 1 {
        return Err(DirectoryError::invalid(
            attribute,
            "at most one value may be primary",
        ));
    }
    for v in values {
        if v.value.trim().is_empty() {
            return Err(DirectoryError::invalid(
                attribute,
                "a value must not be empty",
            ));
        }
        text(attribute, &Some(v.value.clone()))?;
        text(attribute, &v.display)?;
        text(attribute, &v.kind)?;
    }
    Ok(())
}

/// Validates and normalises a user's attributes.
/// Whether `tag` is a well-formed BCP 47 language tag (RFC 5646); `_` is
/// taken for `-`, as Java-style locales (`en_US`) write it.
fn language_tag(tag: &str) -> bool {
    language_tags::LanguageTag::parse(&tag.replace('_', "-")).is_ok_and(|t| t.is_valid())
}

/// The formats RFC 7643 §4.1 gives the core profile: `timezone` an IANA
/// time zone, `locale` a language tag, `preferredLanguage` an
/// Accept-Language value, an address's `country` ISO 3166-1 alpha-2; phone
/// numbers leniently (digits and the usual punctuation, or a `tel:` URI).
fn profile(a: &UserAttrs) -> Result<()> {
    if let Some(tz) = &a.timezone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            return Err(DirectoryError::invalid(
                "timezone",
                format!("{tz:?} is not an IANA time zone (Europe/Warsaw, America/New_York)"),
            ));
        }
    }
    if let Some(locale) = &a.locale {
        if !language_tag(locale) {
            return Err(DirectoryError::invalid(
                "locale",
                format!("{locale:?} is not a BCP 47 language tag (en-US, pl-PL)"),
            ));
        }
    }
    if let Some(languages) = &a.preferred_language {
        let ok = languages.split(',').all(|range| {
            let tag = range.split(';').next().unwrap_or("").trim();
            tag == "*" || language_tag(tag)
        });
        if !ok {
            return Err(DirectoryError::invalid(
                "preferredLanguage",
                format!("{languages:?} is not a list of language tags (en-US, fr;q=0.8)"),
            ));
        }
    }
    for address in &a.addresses {
        if let Some(country) = address.get("country").and_then(serde_json::Value::as_str) {
            if isocountry::CountryCode::for_alpha2_caseless(country).is_err() {
                return Err(DirectoryError::invalid(
                    "addresses.country",
                    format!("{country:?} is not an ISO 3166-1 alpha-2 country code (PL, US)"),
                ));
            }
        }
    }
    for phone in &a.phone_numbers {
        let number = phone.value.strip_prefix("tel:").unwrap_or(&phone.value);
        let digits = number.chars().filter(char::is_ascii_digit).count();
        let allowed = number
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./;=#*".contains(c) || c.is_ascii_alphabetic());
        if digits < 3 || !allowed {
            return Err(DirectoryError::invalid(
                "phoneNumbers",
                format!("{:?} is not a phone number", phone.value),
            ));
        }
    }
    Ok(())
}

/// Most entries an IP allow-list may hold.
const MAX_ALLOW_LIST: usize = 100;

/// Each entry an IP address or a CIDR network.
fn ip_allow_list(list: &[String]) -> Result<()> {
    if list.len() > MAX_ALLOW_LIST {
        return Err(DirectoryError::invalid(
            "ipAllowList",
            format!("may hold at most {MAX_ALLOW_LIST} entries"),
        ));
    }
    match list
        .iter()
        .find(|e| super::policy::parse_network(e).is_none())
    {
        Some(bad) => Err(DirectoryError::invalid(
            "ipAllowList",
            format!("{bad:?} is not an IP address or a network in CIDR notation (10.0.0.0/8, 2001:db8::/32)"),
        )),
        None => Ok(()),
    }
}

pub fn user(mut a: UserAttrs) -> Result<UserAttrs> {
    a.user_name = name("userName", &a.user_name)?;
    for (attr, v) in [
        ("externalId", &a.external_id),
        ("displayName", &a.display_name),
        ("nickName", &a.nick_name),
        ("profileUrl", &a.profile_url),
        ("title", &a.title),
        ("userType", &a.user_type),
        ("preferredLanguage", &a.preferred_language),
        ("locale", &a.locale),
        ("timezone", &a.timezone),
        ("name.formatted", &a.name.formatted),
        ("name.familyName", &a.name.family_name),
        ("name.givenName", &a.name.given_name),
        ("name.middleName", &a.name.middle_name),
        ("name.honorificPrefix", &a.name.honorific_prefix),
        ("name.honorificSuffix", &a.name.honorific_suffix),
    ] {
        text(attr, v)?;
    }
    for (attr, v) in [
        ("emails", &a.emails),
        ("phoneNumbers", &a.phone_numbers),
        ("ims", &a.ims),
        ("photos", &a.photos),
        ("roles", &a.roles),
        ("entitlements", &a.entitlements),
        ("x509Certificates", &a.x509_certificates),
    ] {
        multi(attr, v)?;
    }
    ip_allow_list(&a.account.ip_allow_list)?;
    // A set: each entry once, in the order first given.
    let mut seen = std::collections::HashSet::new();
    a.account
        .ip_allow_list
        .retain(|e| seen.insert(e.trim().to_ascii_lowercase()));
    profile(&a)?;
    for (attr, n) in [
        ("uidNumber", a.posix.uid_number),
        ("gidNumber", a.posix.gid_number),
    ] {
        posix_number(attr, n)?;
    }
    for (attr, v) in [
        ("homeDirectory", &a.posix.home_directory),
        ("loginShell", &a.posix.login_shell),
        ("gecos", &a.posix.gecos),
    ] {
        text(attr, v)?;
        if v.as_deref()
            .is_some_and(|v| v.chars().any(char::is_control))
        {
            return Err(DirectoryError::invalid(
                attr,
                "must not contain control characters",
            ));
        }
    }
    for e in &a.emails {
        let v = e.value.trim();
        match v.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !v.contains(char::is_whitespace) => {}
            _ => {
                return Err(DirectoryError::invalid(
                    "emails",
                    format!("{v:?} is not an email address"),
                ))
            }
        }
    }
    Ok(a)
}

/// Validates and normalises a group's attributes.
pub fn group(mut a: GroupAttrs) -> Result<GroupAttrs> {
    a.display_name = name("displayName", &a.display_name)?;
    text("externalId", &a.external_id)?;
    posix_number("gidNumber", a.gid_number)?;
    if a.permissions.len() > MAX_PERMISSIONS {
        return Err(DirectoryError::invalid(
            "permissions",
            format!("a group carries at most {MAX_PERMISSIONS}"),
        ));
    }
    for p in &a.permissions {
        if p.trim().is_empty() || p.len() > 256 || p.chars().any(char::is_control) {
            return Err(DirectoryError::invalid(
                "permissions",
                format!("{p:?} is not a permission (1 to 256 characters, no control characters)"),
            ));
        }
    }
    // A set: each once, in the order first given.
    let mut seen = std::collections::HashSet::new();
    a.permissions.retain(|p| seen.insert(p.clone()));
    Ok(a)
}

/// Most permissions one group carries.
const MAX_PERMISSIONS: usize = 1000;

/// A uid_t / gid_t: 0 to 2^32 − 2 (2^32 − 1 means "no id" to the kernel).
fn posix_number(attribute: &str, n: Option<i64>) -> Result<()> {
    match n {
        Some(n) if !(0..=4_294_967_294).contains(&n) => Err(DirectoryError::invalid(
            attribute,
            "must be between 0 and 4294967294",
        )),
        _ => Ok(()),
    }
}

/// Checks a new password's basic shape (the password policy comes later).
pub fn password(p: &str) -> Result<()> {
    if p.is_empty() {
        return Err(DirectoryError::invalid("password", "must not be empty"));
    }
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(DirectoryError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}
