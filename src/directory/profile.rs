//! The operator's rules for names (`[profile]` in the configuration): which
//! characters a userName and a person's name parts may hold. The defaults
//! accept letters and marks of every script (Łukasz, Zoë, 山田), digits,
//! and the punctuation names and logins use.

use regex::Regex;

use super::error::DirectoryError;
use super::model::UserAttrs;
use crate::config::ProfileConfig;

/// The rules, compiled.
#[derive(Debug, Clone)]
pub struct Profile {
    user_name: Regex,
    name: Regex,
}

impl Profile {
    /// Compiles the configured patterns; a pattern that does not compile is
    /// a configuration error naming its key.
    pub fn new(config: &ProfileConfig) -> Result<Profile, String> {
        let compile = |key: &str, pattern: &str| {
            Regex::new(pattern).map_err(|e| format!("profile.{key}: {e}"))
        };
        Ok(Profile {
            user_name: compile("user_name_pattern", &config.user_name_pattern)?,
            name: compile("name_pattern", &config.name_pattern)?,
        })
    }

    /// Checks a user's userName and name parts.
    pub fn check(&self, a: &UserAttrs) -> Result<(), DirectoryError> {
        if !self.user_name.is_match(&a.user_name) {
            return Err(DirectoryError::invalid(
                "userName",
                format!(
                    "{:?} has characters a userName may not (profile.user_name_pattern)",
                    a.user_name
                ),
            ));
        }
        let n = &a.name;
        for (attr, value) in [
            ("name.givenName", &n.given_name),
            ("name.familyName", &n.family_name),
            ("name.middleName", &n.middle_name),
        ] {
            if let Some(v) = value {
                if !self.name.is_match(v) {
                    return Err(DirectoryError::invalid(
                        attr,
                        format!("{v:?} has characters a name may not (profile.name_pattern)"),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_take_names_of_every_script_and_refuse_markup() {
        let p = Profile::new(&ProfileConfig::default()).unwrap();
        let mut a = UserAttrs {
            user_name: "łukasz.ó@example.com".into(),
            ..UserAttrs::default()
        };
        for given in ["Łukasz", "Zoë", "Jean-Luc", "O'Brien", "山田", "Anne Marie"] {
            a.name.given_name = Some(given.into());
            assert!(p.check(&a).is_ok(), "{given}");
        }
        a.name.given_name = Some("<script>".into());
        assert!(p.check(&a).is_err());
        a.name.given_name = None;
        a.user_name = "bad name".into();
        assert!(p.check(&a).is_err(), "no spaces in a userName");
        assert!(Profile::new(&ProfileConfig {
            name_pattern: "(".into(),
            ..ProfileConfig::default()
        })
        .is_err());
    }
}
