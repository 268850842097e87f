//! Secrets the command line needs (a link's OTP, an API key, an account's password, an MFA
//! code) come from a prompt without echo, a file, or the environment: never from an argument,
//! which would land in shell history and in every process listing.

use std::path::Path;

use anyhow::Context as _;
use zeroize::Zeroizing;

/// Where one secret comes from.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    /// Asked on the terminal, with this prompt.
    Prompt(&'a str),
    /// The first line of a file (`-` for standard input).
    File(&'a Path),
}

/// Reads a secret from `source`, trimmed of its line end; an empty one is an error.
pub fn read(source: &Source<'_>, what: &str) -> anyhow::Result<Zeroizing<String>> {
    let text = match source {
        Source::Prompt(prompt) => {
            Zeroizing::new(rpassword::prompt_password(*prompt).with_context(|| {
                format!("reading the {what} from the terminal (or pass a file)")
            })?)
        }
        Source::File(path) if path.as_os_str() == "-" => {
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .read_line(&mut line)
                .with_context(|| format!("reading the {what} from standard input"))?;
            line
        }
        Source::File(path) => Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the {what} from {}", path.display()))?,
        ),
    };
    let first = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('\r');
    anyhow::ensure!(!first.is_empty(), "the {what} is empty");
    Ok(Zeroizing::new(first.to_owned()))
}

/// `file` when given, else a prompt.
pub fn from_file_or_prompt<'a>(file: Option<&'a Path>, prompt: &'a str) -> Source<'a> {
    match file {
        Some(path) => Source::File(path),
        None => Source::Prompt(prompt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gives_its_first_line() -> anyhow::Result<()> {
        let folder = tempfile::tempdir()?;
        let path = folder.path().join("otp");
        std::fs::write(&path, "correct horse\r\nsecond line\n")?;
        assert_eq!(read(&Source::File(&path), "OTP")?.as_str(), "correct horse");
        std::fs::write(&path, "\n")?;
        assert!(read(&Source::File(&path), "OTP").is_err());
        Ok(())
    }
}
