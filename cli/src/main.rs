//! `sealpost`: Sealpost's command-line client. It speaks the protocol natively (shared's
//! RustCrypto, AES-NI where the processor has it): files are encrypted here, chunk by chunk, and
//! only ciphertext, sizes and wrapped keys reach the relay. Secrets (an OTP, an API key, a
//! password) are read from a prompt, a file or the environment, never from the command line.

mod account;
mod config;
mod documents;
mod http;
mod open;
mod output;
mod progress;
mod receive;
mod secrets;
mod send;

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use shared::ids::Id;
use shared::secret::SecretString;
use shared::wire;

use crate::http::{Auth, Relay};
use crate::progress::Progress;

#[derive(Parser)]
#[command(
    name = "sealpost",
    version,
    about = "Send and receive end-to-end encrypted documents through a Sealpost relay"
)]
struct Cli {
    /// Print the result as JSON on standard output (and no progress bar), for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Save the relay's address and an organisation API key (asked without echo) for the
    /// commands that need one. SEALPOST_URL and SEALPOST_API_KEY override what is saved.
    Login {
        /// The relay, e.g. https://sealpost.example.com
        url: String,
        /// Read the API key from this file (`-` for standard input) instead of asking.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// Forget the saved API key.
    Logout,
    /// Encrypt files here and make a one-time link (Secure Send).
    Send(SendArgs),
    /// Open a link: ask its one-time password and decrypt its files into a folder. Run it
    /// again after an interruption to go on where it stopped.
    Open {
        /// The link; asked without echo when neither it nor --link-file is given (an argument
        /// lands in shell history: the one-time password still guards the link).
        link: Option<String>,
        /// Read the link from this file (`-` for standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "link")]
        link_file: Option<PathBuf>,
        /// The folder to save into (made if missing); `sealpost-<id>` by default.
        #[arg(long, short, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Read the one-time password from this file (`-` for standard input) instead of asking.
        #[arg(long, value_name = "FILE")]
        otp_file: Option<PathBuf>,
    },
    /// List the organisation's sends and where each stands.
    Sent,
    /// Document requests.
    #[command(subcommand)]
    Request(RequestCommand),
    /// List the documents that arrived for the organisation.
    Inbox,
    /// Documents.
    #[command(subcommand)]
    Document(DocumentCommand),
}

#[derive(Args)]
struct SendArgs {
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Ask the one-time password (twice) instead of drawing one.
    #[arg(long, conflicts_with = "otp_file")]
    otp_prompt: bool,
    /// Read the one-time password from this file (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    otp_file: Option<PathBuf>,
    /// How long the link lives: 30m, 12h, 7d, 2w.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    expires: i64,
    /// How many times the link opens.
    #[arg(long, default_value_t = 1)]
    opens: u32,
    /// Ask for payment before the files open, e.g. 120.50EUR.
    #[arg(long, value_name = "AMOUNT")]
    invoice: Option<String>,
    /// What the invoice is for.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "Documents",
        requires = "invoice"
    )]
    invoice_description: String,
    /// The recipient's address, for the sender's records (the relay sends it nothing).
    #[arg(long, value_name = "EMAIL")]
    to: Option<String>,
    /// A note for the recipient, encrypted with the files.
    #[arg(long, conflicts_with = "note_file")]
    note: Option<String>,
    /// Read the note from this file (it stays out of shell history).
    #[arg(long, value_name = "FILE")]
    note_file: Option<PathBuf>,
    /// Also print the link as a QR code.
    #[arg(long)]
    qr: bool,
}

#[derive(Subcommand)]
enum RequestCommand {
    /// Ask for documents: by link (printed, for anyone you hand it to) or from an
    /// organisation on this relay (--org).
    Create {
        /// What you ask for.
        #[arg(long)]
        description: String,
        /// When it is due: a date (2027-01-31) or a delay (14d).
        #[arg(long, default_value = "14d")]
        due: String,
        /// Ask this organisation (its handle) instead of making a link.
        #[arg(long, value_name = "HANDLE")]
        org: Option<String>,
        /// Where to send reminders for a request by link.
        #[arg(long, value_name = "EMAIL", conflicts_with = "org")]
        provider_email: Option<String>,
    },
    /// List requests made and received.
    List,
    /// Answer a request link with files, as its provider (no account needed). The link is a
    /// key (whoever holds it can answer): it is asked without echo, or read from a file.
    Answer {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Read the request link from this file (`-` for standard input) instead of asking.
        #[arg(long, value_name = "FILE")]
        link_file: Option<PathBuf>,
        /// A note, encrypted with the files.
        #[arg(long, conflicts_with = "note_file")]
        note: Option<String>,
        /// Read the note from this file.
        #[arg(long, value_name = "FILE")]
        note_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DocumentCommand {
    /// Decrypt a document into a folder. Documents are wrapped to people's keys, not to API
    /// keys: this logs you in (password asked without echo) for this command only.
    Get {
        id: String,
        /// Your account's address.
        #[arg(long, env = "SEALPOST_EMAIL")]
        email: String,
        /// Read the password from this file (`-` for standard input) instead of asking.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The folder to save into; `sealpost-<id>` by default.
        #[arg(long, short, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", output::plain(&format!("{error:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    let bar = |label: &str| Progress::new(label, !json && std::io::stderr().is_terminal());
    let say = |text: &str| {
        if !json {
            eprintln!("{}", output::plain(text));
        }
    };
    match cli.command {
        Command::Login { url, key_file } => {
            http::check_address(url.trim())?;
            let source = secrets::from_file_or_prompt(key_file.as_deref(), "API key (sp_…): ");
            let key = secrets::read(&source, "API key")?;
            anyhow::ensure!(
                key.starts_with("sp_"),
                "that is not a Sealpost API key (they start with sp_)"
            );
            let relay = Relay::new(&url, Auth::Bearer(SecretString::new(key.to_string())))?;
            // An authenticated read tells a known key (2xx, or 403 for a scope it lacks) from
            // an unknown one (401) or an address that is no relay.
            let probe = relay
                .request(reqwest::Method::GET, "/api/sends")
                .send()
                .await
                .context("the relay could not be reached")?;
            let status = probe.status().as_u16();
            if !(probe.status().is_success() || status == 403) {
                return Err(http::refusal(probe).await.into());
            }
            let saved = config::Config {
                url: Some(relay.base().to_owned()),
                api_key: Some(SecretString::new(key.to_string())),
            }
            .save()?;
            output::done(
                json,
                &serde_json::json!({ "saved": saved }),
                &format!(
                    "Logged in to {}; the key is saved in {} (readable by you only).",
                    relay.base(),
                    saved.display()
                ),
            )
        }
        Command::Logout => {
            let mut saved = config::Config::load_saved()?;
            saved.api_key = None;
            let path = saved.save()?;
            output::done(
                json,
                &serde_json::json!({ "saved": path }),
                "The API key is forgotten.",
            )
        }
        Command::Send(args) => run_send(args, json, &bar("Sending"), &say).await,
        Command::Open {
            link,
            link_file,
            out,
            otp_file,
        } => {
            let link = match link {
                Some(link) => zeroize::Zeroizing::new(link),
                None => secrets::read(
                    &secrets::from_file_or_prompt(link_file.as_deref(), "Link: "),
                    "link",
                )?,
            };
            let source = secrets::from_file_or_prompt(otp_file.as_deref(), "One-time password: ");
            let opened = open::open(&link, out.as_deref(), &source, &bar("Receiving"), say).await?;
            let mut text = format!("Saved in {}:", opened.folder.display());
            for file in &opened.files {
                text.push_str(&format!("\n  {}", file.display()));
            }
            if let Some(note) = &opened.note {
                text.push_str(&format!("\nNote: {note}"));
            }
            output::done(json, &opened, &text)
        }
        Command::Sent => {
            let sends: Vec<wire::SendView> = api_key_relay()?.get("/api/sends").await?;
            output::list(json, &sends, output::sends_table)
        }
        Command::Inbox => {
            let documents: Vec<wire::DocumentView> =
                api_key_relay()?.get("/api/documents?box=inbox").await?;
            output::list(json, &documents, output::documents_table)
        }
        Command::Request(RequestCommand::List) => {
            let requests: Vec<wire::RequestView> = api_key_relay()?.get("/api/requests").await?;
            output::list(json, &requests, output::requests_table)
        }
        Command::Request(RequestCommand::Create {
            description,
            due,
            org,
            provider_email,
        }) => {
            let due_at = parse_due(&due, open::unix_now())?;
            let made = documents::create_request(
                &api_key_relay()?,
                org.as_deref(),
                provider_email,
                description,
                due_at,
            )
            .await?;
            let text = match &made.link {
                Some(link) => format!(
                    "Request {} made. Hand this link to the provider:\n{link}",
                    made.id
                ),
                None => format!("Request {} sent to {}.", made.id, org.unwrap_or_default()),
            };
            output::done(json, &made, &text)
        }
        Command::Request(RequestCommand::Answer {
            files,
            link_file,
            note,
            note_file,
        }) => {
            if let Some(file) = files.iter().find(|file| {
                let text = file.to_string_lossy();
                text.contains("/r/") && text.contains('#') && !file.exists()
            }) {
                anyhow::bail!(
                    "{} looks like a link: a request link is a key and arguments land in shell \
                     history; give it with --link-file or at the prompt",
                    output::plain(&file.to_string_lossy())
                );
            }
            let link = secrets::read(
                &secrets::from_file_or_prompt(link_file.as_deref(), "Request link: "),
                "request link",
            )?;
            let note = read_note(note, note_file.as_deref())?;
            let outgoing = files
                .into_iter()
                .map(send::Outgoing::at)
                .collect::<anyhow::Result<Vec<_>>>()?;
            let answered =
                documents::answer_request(&link, &outgoing, note, &bar("Sending"), say).await?;
            let text = format!(
                "Sent as document {}, readable only by: {}.",
                answered.document,
                answered.to.join(", ")
            );
            output::done(json, &answered, &text)
        }
        Command::Document(DocumentCommand::Get {
            id,
            email,
            password_file,
            out,
        }) => {
            let id = Id::parse(id.trim()).context("that is not a document id")?;
            let base = config::Config::load()?.url()?.to_owned();
            let password = secrets::from_file_or_prompt(password_file.as_deref(), "Password: ");
            let code = secrets::Source::Prompt("Authentication code: ");
            let person = account::log_in(&base, &email, &password, &code).await?;
            let fetched = documents::get(&person, id, out.as_deref(), &bar("Receiving")).await;
            person.log_out().await;
            let fetched = fetched?;
            let mut text = format!("Saved in {}:", fetched.folder.display());
            for file in &fetched.files {
                text.push_str(&format!("\n  {}", file.display()));
            }
            output::done(json, &fetched, &text)
        }
    }
}

async fn run_send(
    args: SendArgs,
    json: bool,
    progress: &Progress,
    say: &impl Fn(&str),
) -> anyhow::Result<()> {
    let files = args
        .files
        .into_iter()
        .map(send::Outgoing::at)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let invoice = args
        .invoice
        .as_deref()
        .map(|text| parse_invoice(text, &args.invoice_description))
        .transpose()?;
    let (otp, drawn) = if let Some(file) = &args.otp_file {
        (
            secrets::read(&secrets::Source::File(file), "one-time password")?,
            false,
        )
    } else if args.otp_prompt {
        let first = secrets::read(
            &secrets::Source::Prompt("One-time password: "),
            "one-time password",
        )?;
        let again = secrets::read(&secrets::Source::Prompt("Again: "), "one-time password")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        (first, false)
    } else {
        (
            zeroize::Zeroizing::new(shared::crypto::otp::generate_otp()),
            true,
        )
    };
    let terms = send::Terms {
        expires_in_seconds: args.expires,
        max_opens: args.opens,
        invoice,
        recipient_email: args.to,
        note: read_note(args.note, args.note_file.as_deref())?,
    };
    let made = send::send(&api_key_relay()?, &files, &otp, terms, progress).await?;
    if json {
        let mut answer = serde_json::json!({
            "id": made.id,
            "link": made.link.as_str(),
            "expires_at": made.view.expires_at,
            "max_opens": made.view.max_opens,
            "size": made.view.size,
        });
        if drawn {
            answer["otp"] = serde_json::Value::String(otp.to_string());
        }
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    say(&format!(
        "Sent {} file(s); the link opens {} time(s) until {}.",
        files.len(),
        made.view.max_opens,
        output::date(made.view.expires_at)
    ));
    println!("{}", made.link.as_str());
    if drawn {
        say("One-time password (give it by another way than the link, e.g. by phone):");
        println!("{}", otp.as_str());
    }
    if args.qr {
        println!("{}", output::qr(&made.link)?);
    }
    Ok(())
}

/// The note given, or read from `file`.
fn read_note(
    note: Option<String>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<String>> {
    match file {
        Some(path) => {
            Ok(Some(std::fs::read_to_string(path).with_context(|| {
                format!("reading the note from {}", path.display())
            })?))
        }
        None => Ok(note),
    }
}

/// A client of the configured relay with the configured API key.
fn api_key_relay() -> anyhow::Result<Relay> {
    let saved = config::Config::load()?;
    let key = saved.api_key()?;
    Relay::new(
        saved.url()?,
        Auth::Bearer(SecretString::new(key.dangerously_expose().to_owned())),
    )
}

/// `30m`, `12h`, `7d`, `2w` (or plain seconds) in seconds.
fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: i64 = number
        .parse()
        .map_err(|_| format!("{text} is not a duration (30m, 12h, 7d, 2w)"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text} is not a duration (30m, 12h, 7d, 2w)")),
    };
    number
        .checked_mul(scale)
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| format!("{text} is not a duration (30m, 12h, 7d, 2w)"))
}

/// A due date: `YYYY-MM-DD` (the end of that day, UTC) or a delay from `now`.
fn parse_due(text: &str, now: i64) -> anyhow::Result<i64> {
    if let Some((year, rest)) = text.trim().split_once('-')
        && let Some((month, day)) = rest.split_once('-')
    {
        let (year, month, day): (i64, u32, u32) = (year.parse()?, month.parse()?, day.parse()?);
        anyhow::ensure!(
            (1..=12).contains(&month) && (1..=31).contains(&day),
            "{text} is not a date"
        );
        return Ok(shared::dates::days_from_civil(year, month, day) * 86_400 + 86_399);
    }
    Ok(now + parse_duration(text).map_err(anyhow::Error::msg)?)
}

/// `120.50EUR`, `EUR 120.50` or `120,50 eur` as invoice terms.
fn parse_invoice(text: &str, description: &str) -> anyhow::Result<wire::InvoiceTerms> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let letters: String = cleaned.chars().filter(char::is_ascii_alphabetic).collect();
    let amount: String = cleaned
        .chars()
        .filter(|c| !c.is_ascii_alphabetic())
        .collect();
    let currency = shared::money::Currency::parse(&letters.to_uppercase())
        .map_err(|error| anyhow::anyhow!("{text}: {error} (write e.g. 120.50EUR)"))?;
    let amount_minor = shared::money::parse_amount(&amount, currency)
        .map_err(|error| anyhow::anyhow!("{text}: {error}"))?;
    Ok(wire::InvoiceTerms {
        amount_minor,
        currency,
        description: description.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_dates_and_amounts() -> anyhow::Result<()> {
        assert_eq!(parse_duration("7d"), Ok(7 * 86_400));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        assert!(parse_duration("7y").is_err());
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("d").is_err());
        assert_eq!(parse_due("1d", 1_000)?, 1_000 + 86_400);
        // 2027-01-31T23:59:59Z.
        assert_eq!(parse_due("2027-01-31", 0)?, 1_801_439_999);
        let invoice = parse_invoice("120.50EUR", "Records")?;
        assert_eq!(invoice.amount_minor, 12_050);
        assert_eq!(invoice.currency.code(), "EUR");
        assert_eq!(parse_invoice("JPY 1200", "x")?.amount_minor, 1_200);
        assert!(parse_invoice("120.505EUR", "x").is_err());
        assert!(parse_invoice("120.50", "x").is_err());
        Ok(())
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
