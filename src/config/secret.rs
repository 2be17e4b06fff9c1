//! The JWT signing secret as a flag or environment value: checked without ever being
//! shown. clap's own error for a value that fails to parse quotes the value
//! (`invalid value 'short' for '--jwt-secret'`), which would put the secret on stderr and
//! so in the journal; [`SecretParser`] reports what is wrong with it instead.

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

/// The fewest characters a signing secret may have.
pub const SECRET_MIN: usize = 32;

/// A secret string whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() < SECRET_MIN {
            return Err(format!(
                "must be at least {SECRET_MIN} characters (it has {})",
                s.len()
            ));
        }
        Ok(Secret(s.to_owned()))
    }
}

/// clap's parser for a [`Secret`]: its errors name the flag (and its environment
/// variable) and the length, never the value.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecretParser;

impl TypedValueParser for SecretParser {
    type Value = Secret;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Secret, clap::Error> {
        let flag = match arg {
            Some(arg) => match arg.get_env() {
                Some(env) => format!("'{arg}' ({})", env.to_string_lossy()),
                None => format!("'{arg}'"),
            },
            None => "the secret".to_owned(),
        };
        let why = match value.to_str() {
            None => "it is not valid UTF-8".to_owned(),
            Some(s) => match s.parse::<Secret>() {
                Ok(secret) => return Ok(secret),
                Err(why) => why,
            },
        };
        let message = format!(
            "invalid value for {flag}: {why}; make one with `openssl rand -hex 32`. The value \
             is not shown.\n"
        );
        Err(clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(cmd))
    }
}
