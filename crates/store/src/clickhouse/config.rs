//! Connection settings of the ClickHouse store.

use serde::Deserialize;
use std::fmt;

/// Where the ClickHouse store lives. The password comes from the environment, never from a file in the repo.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// Database holding the ledger tables; `migrate()` creates it when missing.
    #[serde(default = "default_database")]
    pub database: String,
    /// User name.
    #[serde(default = "default_user")]
    pub user: String,
    /// Password (empty for none).
    #[serde(default)]
    pub password: String,
}

fn default_database() -> String {
    "subsidy".to_string()
}

fn default_user() -> String {
    "default".to_string()
}

impl ClickHouseConfig {
    /// Settings for `url` with the default database (`subsidy`), user (`default`) and no password.
    pub fn new(url: impl Into<String>) -> ClickHouseConfig {
        ClickHouseConfig { url: url.into(), database: default_database(), user: default_user(), password: String::new() }
    }

    /// The same settings with another database.
    pub fn with_database(mut self, database: impl Into<String>) -> ClickHouseConfig {
        self.database = database.into();
        self
    }

    /// Checks the settings without touching the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(ConfigError::Url(self.url.clone()));
        }
        if !is_plain_identifier(&self.database) {
            return Err(ConfigError::Database(self.database.clone()));
        }
        if self.user.is_empty() {
            return Err(ConfigError::EmptyUser);
        }
        Ok(())
    }
}

/// ClickHouse settings that cannot work. Fixing the settings is the only remedy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL is not HTTP(S).
    #[error("clickhouse url {0:?} must start with http:// or https://")]
    Url(String),
    /// The database name is not a plain identifier (it is spliced into DDL).
    #[error("clickhouse database {0:?} must be letters, digits and '_' only")]
    Database(String),
    /// No user.
    #[error("clickhouse user must not be empty")]
    EmptyUser,
}

impl ConfigError {
    /// Whether retrying can help: never, the settings must change.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, safe to splice into DDL.
pub(crate) fn is_plain_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_') && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &if self.password.is_empty() { "" } else { "<redacted>" })
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn validates_names_and_urls() {
        let ok = ClickHouseConfig::new("http://127.0.0.1:8123");
        assert_eq!(ok.validate(), Ok(()));
        assert!(ok.clone().with_database("subsidy_test_1").validate().is_ok());
        assert!(ok.clone().with_database("x; DROP").validate().is_err());
        assert!(ok.clone().with_database("").validate().is_err());
        assert!(ok.clone().with_database("1abc").validate().is_err());
        assert_eq!(ClickHouseConfig::new("127.0.0.1:8123").validate(), Err(ConfigError::Url("127.0.0.1:8123".into())));
        assert_eq!(ok.clone().with_database("x; DROP").validate(), Err(ConfigError::Database("x; DROP".into())));
        let e = ClickHouseConfig { user: String::new(), ..ok.clone() }.validate().unwrap_err();
        assert_eq!((e.to_string().as_str(), e.is_retryable()), ("clickhouse user must not be empty", false));
    }

    #[test]
    fn debug_hides_the_password() {
        let mut c = ClickHouseConfig::new("http://h:8123");
        c.password = "secret".into();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
