//! The configuration file's decoder: TOML over the defaults, layered as `Config::load` layers
//! a file (`Toml::string` in place of `Toml::file`; the environment and flag layers left out),
//! never panics. An accepted configuration's `check` answers `Ok` or an `Err` that says
//! something, the same every time; and the configuration survives the other ways the relay
//! layers one: through figment's `Serialized` provider (how the defaults and the flags enter)
//! and written back as TOML and read again, it is the same configuration.
#![no_main]

use std::sync::LazyLock;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use libfuzzer_sys::fuzz_target;
use relay::Config;
use serde_json::Value;

/// The bottom layer, built once (it is the same for every input).
static DEFAULTS: LazyLock<Figment> =
    LazyLock::new(|| Figment::from(Serialized::defaults(Config::default())));

fn from_toml(text: &str) -> Result<Config, figment::Error> {
    DEFAULTS.clone().merge(Toml::string(text)).extract()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = from_toml(text) else {
        return;
    };
    let checked = config.check();
    if let Err(problem) = &checked {
        assert!(!problem.trim().is_empty(), "a refusal without a reason");
    }
    assert_eq!(config.check(), checked, "check is not deterministic");
    let layered: Config = Figment::from(Serialized::defaults(&config))
        .extract()
        .expect("an accepted configuration layers again");
    assert_eq!(layered, config);
    if has_long_quote_run(&serde_json::to_value(&config).expect("serializes")) {
        return;
    }
    let written = toml::to_string(&config).expect("an accepted configuration writes as TOML");
    let reread = from_toml(&written).expect("what it writes reads again");
    assert_eq!(reread, config, "written as {written}");
});

/// Whether a string value has 256 or more `'` or `"` in a row: the TOML writer the relay's
/// figment brings (toml 0.8, toml_write 0.1) counts them in a `u8` and panics on the overflow
/// in a build with overflow checks, such as this one (toml-rs/toml#1188, fixed in the writer
/// of toml 1.x). The relay never writes TOML; only this target's write-back step does.
fn has_long_quote_run(value: &Value) -> bool {
    match value {
        Value::String(text) => ['\'', '"']
            .iter()
            .any(|&quote| text.split(|c| c != quote).any(|run| run.len() >= 256)),
        Value::Array(items) => items.iter().any(has_long_quote_run),
        Value::Object(fields) => fields.values().any(has_long_quote_run),
        _ => false,
    }
}
