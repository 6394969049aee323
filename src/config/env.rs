//! Environment variables over the file: the guide's and the contract's names, and
//! `CONVSTORE_<KEY>` / `CONVSTORE_<SECTION>__<KEY>` for every key.

/// Environment variables the guide and the HTTP contract name, and the key each sets.
const ENV_ALIASES: [(&str, &str); 5] = [
    ("CONVERSATION_DB_URL", "db_url"),
    ("CONVERSATION_DATA_DIR", "data_dir"),
    ("CONVSTORE_BIND", "http.bind"),
    ("CONVSTORE_TOKEN", "http.token"),
    ("CONVSTORE_ECHO", "echo"),
];

/// Prefix of the environment variables that set any key: `CONVSTORE_HTTP__BIND` sets
/// `http.bind`, `CONVSTORE_CLEANUP_DAYS` sets `cleanup_days`.
const ENV_PREFIX: &str = "CONVSTORE_";

/// `CONVSTORE_*` variables that are not configuration keys.
const ENV_NOT_KEYS: [&str; 1] = ["CONVSTORE_CONFIG"];

/// An environment variable that cannot be read as the key it names.
#[derive(Debug)]
pub struct EnvError {
    /// The variable.
    pub variable: String,
    /// What is wrong with it.
    pub message: String,
}

fn error(variable: &str, message: impl Into<String>) -> EnvError {
    EnvError {
        variable: variable.to_string(),
        message: message.into(),
    }
}

/// The environment as text. A variable whose name or value is not UTF-8 is left out,
/// as it cannot be one of ours, unless its name is ours (`CONVSTORE_...`, or one of the
/// contract's names): that is an error naming it.
pub fn text_vars(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Vec<(String, String)>, EnvError> {
    let mut text = Vec::new();
    for (name, value) in vars {
        match (name.into_string(), value.into_string()) {
            (Ok(name), Ok(value)) => text.push((name, value)),
            (Ok(name), Err(_)) if is_ours(&name) => {
                return Err(error(&name, "is not valid UTF-8"));
            }
            _ => {}
        }
    }
    Ok(text)
}

/// Whether `name` is a variable this configuration reads.
fn is_ours(name: &str) -> bool {
    name.starts_with(ENV_PREFIX) || ENV_ALIASES.iter().any(|(alias, _)| *alias == name)
}

/// Overlays environment variables on the file's `table`. A value takes the type of the
/// key's value in `defaults`, so `CONVSTORE_TOKEN=12345` stays a string.
pub fn overlay(
    table: &mut toml::Table,
    defaults: &toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(), EnvError> {
    for (name, raw) in vars {
        let key = if let Some((_, key)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == name) {
            key.to_string()
        } else if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
            if ENV_NOT_KEYS.contains(&name.as_str()) {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            if default_at(defaults, &key).is_none() {
                if rest.contains("__") {
                    return Err(error(&name, "is not a configuration key"));
                }
                // Other CONVSTORE_ variables (a test's, a script's) are not ours.
                continue;
            }
            key
        } else {
            continue;
        };
        let default =
            default_at(defaults, &key).ok_or_else(|| error(&name, "is not a configuration key"))?;
        let value = match default {
            toml::Value::Integer(_) => toml::Value::Integer(
                raw.trim()
                    .parse()
                    .map_err(|_| error(&name, format!("{raw:?} is not an integer")))?,
            ),
            toml::Value::Boolean(_) => {
                toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => true,
                    "false" | "0" | "no" | "off" => false,
                    _ => return Err(error(&name, format!("{raw:?} is not true or false"))),
                })
            }
            _ => toml::Value::String(raw),
        };
        set_at(table, &key, value);
    }
    Ok(())
}

fn default_at<'a>(defaults: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let (section, name) = match key.split_once('.') {
        Some((section, name)) => (Some(section), name),
        None => (None, key),
    };
    match section {
        Some(section) => defaults.get(section)?.as_table()?.get(name),
        None => defaults.get(name).filter(|v| !v.is_table()),
    }
}

fn set_at(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        Some((section, name)) => {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(inner) = entry {
                inner.insert(name.to_string(), value);
            }
        }
        None => {
            table.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn variables_that_are_not_utf8_are_ours_to_refuse_only() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![0xff, 0xfe]);
        let vars = vec![
            (bad(), OsString::from("x")),
            (OsString::from("LANG_SOMETHING"), bad()),
            (
                OsString::from("CONVSTORE_CLEANUP_DAYS"),
                OsString::from("7"),
            ),
        ];
        let text = text_vars(vars.into_iter()).unwrap();
        assert_eq!(text, [("CONVSTORE_CLEANUP_DAYS".into(), "7".into())]);
        for ours in ["CONVERSATION_DB_URL", "CONVSTORE_TOKEN"] {
            let error = text_vars([(OsString::from(ours), bad())].into_iter()).unwrap_err();
            assert_eq!(error.variable, ours);
        }
    }

    #[test]
    fn environment_overrides_the_file_with_typed_values() {
        let mut table =
            toml::from_str::<toml::Table>("cleanup_days = 7\n[http]\nbind = \"127.0.0.1:1\"")
                .unwrap();
        let vars = [
            ("CONVERSATION_DB_URL", "sqlite:///x.db"),
            ("CONVSTORE_TOKEN", "12345"),
            ("CONVSTORE_CLEANUP_DAYS", "9"),
            ("CONVSTORE_DATABASE__POOL_SIZE", "3"),
            ("CONVSTORE_ECHO", "true"),
            ("CONVSTORE_TEST_POSTGRES_URL", "ignored"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        overlay(&mut table, &defaults, vars.into_iter()).unwrap();
        let config = Config::from_table(table).unwrap();
        assert_eq!(config.db_url, "sqlite:///x.db");
        assert_eq!(config.http.token, "12345");
        assert_eq!(config.http.bind, "127.0.0.1:1");
        assert_eq!(config.cleanup_days, 9);
        assert_eq!(config.database.pool_size, 3);
        assert!(config.echo);
        let bad = [("CONVSTORE_HTTP__PORT".to_string(), "1".to_string())];
        let error = overlay(&mut toml::Table::new(), &defaults, bad.into_iter()).unwrap_err();
        assert_eq!(error.variable, "CONVSTORE_HTTP__PORT");
    }
}
