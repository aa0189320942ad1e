//! Two-node mode: `two_node = true|false` under `[settings]` (default false), written
//! by `hactl cluster setup` with two nodes and removed by `cluster node add`.

use crate::SettingsError;

/// The `[settings]` key.
pub const SETTING: &str = "two_node";

/// Whether `[settings]` turns two-node mode on.
pub fn configured(settings: &toml::Table) -> Result<bool, SettingsError> {
    match settings.get(SETTING) {
        None => Ok(false),
        Some(toml::Value::Boolean(b)) => Ok(*b),
        Some(v) => Err(SettingsError {
            key: SETTING,
            why: format!("must be true or false, not {v}"),
        }),
    }
}

/// Turns two-node mode on or off in `[settings]`.
pub fn set_configured(settings: &mut toml::Table, on: bool) {
    if on {
        settings.insert(SETTING.into(), toml::Value::Boolean(true));
    } else {
        settings.remove(SETTING);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_must_be_a_boolean() {
        let t: toml::Table = toml::from_str("two_node = true").unwrap();
        assert_eq!(configured(&t), Ok(true));
        let t: toml::Table = toml::from_str("two_node = \"yes\"").unwrap();
        assert!(configured(&t).is_err());
        let mut t = toml::Table::new();
        assert_eq!(configured(&t), Ok(false));
        set_configured(&mut t, true);
        assert_eq!(configured(&t), Ok(true));
        set_configured(&mut t, false);
        assert!(t.is_empty());
    }
}
