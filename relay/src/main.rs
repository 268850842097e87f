//! `sealpost-relay`: parses flags, builds the configuration, sets up logging, and either serves
//! (the default) until SIGTERM or Ctrl-C, or runs an operator command (`admin …`). All
//! behaviour lives in the library (`relay::app`, `relay::admin`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use relay::admin::AdminCommand;
use relay::config::FlagOverrides;
use relay::{AppState, Clock, Config, Store};
use shared::wire::OrgStatus;

/// Sealpost relay: serves the end-to-end encrypted document exchange (web app and API).
#[derive(Debug, Parser)]
#[command(name = "sealpost-relay", about)]
struct Cli {
    /// TOML configuration file (see sealpost.example.toml).
    #[arg(long, env = "SEALPOST_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    /// Folder for the database.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the app and the API (the default).
    Serve,
    /// Print the effective configuration (every layer applied, secrets shown as ***) and every
    /// problem found; exit status 1 if there is one.
    CheckConfig,
    /// Print the API's OpenAPI 3.1 document (what `/api/openapi.json` serves), to generate a
    /// client or check an integration without a running relay.
    Openapi,
    /// Operator commands; they reach the running relay through its admin socket, or open the
    /// data directory themselves when no relay runs.
    Admin {
        /// Print the answer as JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AdminCli,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCli {
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCli,
    },
    /// Organisations: list, verify, suspend, reinstate.
    Orgs {
        #[command(subcommand)]
        command: OrgsCli,
    },
    /// IP addresses blocked for failed attempts: list, lift.
    Blocks {
        #[command(subcommand)]
        command: BlocksCli,
    },
    /// Money from card payments: what each organisation is owed, and recording payouts.
    Payouts {
        #[command(subcommand)]
        command: PayoutsCli,
    },
    /// Accounts: remove a user's second factor (the only way for an owner's).
    Users {
        #[command(subcommand)]
        command: UsersCli,
    },
    /// Back up the data directory while the relay serves (`backup <file>`), or check a
    /// backup (`backup verify <file>`).
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        command: Option<BackupCli>,
        /// The archive to write (a new file).
        file: Option<PathBuf>,
    },
    /// Rebuild a data directory from a backup, into --data-dir, which must be empty; checks
    /// every file against the backup's manifest and the audit chain.
    Restore { file: PathBuf },
    /// Chunk ciphertext: move it between the data directory and an S3 bucket.
    Blobs {
        #[command(subcommand)]
        command: BlobsCli,
    },
}

#[derive(Debug, Subcommand)]
enum BackupCli {
    /// Check every file of a backup against its manifest, and its audit chain.
    Verify { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum BlobsCli {
    /// Move every chunk to the bucket of [blobs.s3] (`--to s3`) or back into the data
    /// directory (`--to files`), with the relay stopped. Resumable: run it again after an
    /// interruption. Then set [blobs] backend to the same place and start the relay.
    Migrate {
        #[arg(long, value_enum)]
        to: MigrateTo,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MigrateTo {
    Files,
    S3,
}

#[derive(Debug, Subcommand)]
enum UsersCli {
    /// Remove the second factor of the account with this address and end its sessions.
    MfaReset { email: String },
}

#[derive(Debug, Subcommand)]
enum PayoutsCli {
    /// What each organisation is owed, per currency, with its payout details.
    Report,
    /// Record a payout made to an organisation, e.g. `record clinic 120.50 EUR --reference T-77`.
    Record {
        handle: String,
        amount: String,
        currency: String,
        #[arg(long)]
        reference: String,
    },
}

#[derive(Debug, Subcommand)]
enum BlocksCli {
    /// List the blocks in force.
    List,
    /// Lift the block of an IP address.
    Lift { ip: String },
}

#[derive(Debug, Subcommand)]
enum OrgsCli {
    /// List organisations (all, or only pending / verified / suspended / closed).
    List {
        #[arg(long, value_parser = parse_status)]
        status: Option<OrgStatus>,
    },
    /// Verify a pending organisation so that it may send and request.
    Verify { handle: String },
    /// Suspend an organisation: its users may log in but not send or request.
    Suspend { handle: String },
    /// Lift a suspension.
    Reinstate { handle: String },
}

fn parse_status(text: &str) -> Result<OrgStatus, String> {
    match text {
        "pending" => Ok(OrgStatus::Pending),
        "verified" => Ok(OrgStatus::Verified),
        "suspended" => Ok(OrgStatus::Suspended),
        "closed" => Ok(OrgStatus::Closed),
        other => Err(format!(
            "{other:?} is not pending, verified, suspended or closed"
        )),
    }
}

#[derive(Debug, Subcommand)]
enum AuditCli {
    /// Walk the hash chain and name the first broken entry (exit status 1 if broken).
    Verify {
        /// A checkpoint kept elsewhere: the JSON `audit checkpoint` printed (or an
        /// organisation downloaded), a file holding it, or `<seq>:<hash>`. The entry it names
        /// must still be there with that hash (else the log was cut short or rewritten).
        #[arg(long)]
        since: Option<String>,
    },
    /// Sign where the log stands now; keep what it prints outside the relay.
    Checkpoint,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let version: &'static str = Box::leak(relay::version_text().into_boxed_str());
    let cli = Cli::from_arg_matches(&Cli::command().version(version).get_matches())
        .unwrap_or_else(|error| error.exit());
    let flags = FlagOverrides {
        listen: cli.listen,
        data_dir: cli.data_dir,
    };
    if let Some(Command::CheckConfig) = cli.command {
        return Ok(check_config(cli.config.as_deref(), &flags));
    }
    if let Some(Command::Openapi) = cli.command {
        use std::io::Write as _;
        // A reader that stops early (`| head`) is not an error.
        let written = writeln!(std::io::stdout().lock(), "{}", relay::openapi_document());
        return match written {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(error).context("while writing the document")
            }
            _ => Ok(ExitCode::SUCCESS),
        };
    }
    let config = Config::load(cli.config.as_deref(), &flags)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .context("while reading the configuration")?;
    match cli.command {
        None | Some(Command::Serve) => serve(config).await.map(|()| ExitCode::SUCCESS),
        Some(Command::CheckConfig) => Ok(check_config(cli.config.as_deref(), &flags)),
        Some(Command::Openapi) => Ok(ExitCode::SUCCESS),
        Some(Command::Admin {
            json,
            command:
                AdminCli::Blobs {
                    command: BlobsCli::Migrate { to },
                },
        }) => migrate_blobs(&config, to, json).await,
        Some(Command::Admin {
            json,
            command:
                AdminCli::Backup {
                    command: Some(BackupCli::Verify { file }),
                    ..
                },
        }) => verify_backup(file, json).await,
        Some(Command::Admin {
            json,
            command: AdminCli::Restore { file },
        }) => restore_backup(&config, file, json).await,
        Some(Command::Admin { json, command }) => {
            let command = match command {
                AdminCli::Audit {
                    command: AuditCli::Verify { since },
                } => AdminCommand::AuditVerify {
                    since: since.map(read_checkpoint).transpose()?,
                },
                AdminCli::Audit {
                    command: AuditCli::Checkpoint,
                } => AdminCommand::AuditCheckpoint,
                AdminCli::Orgs { command } => match command {
                    OrgsCli::List { status } => AdminCommand::OrgsList { status },
                    OrgsCli::Verify { handle } => AdminCommand::OrgVerify { handle },
                    OrgsCli::Suspend { handle } => AdminCommand::OrgSuspend { handle },
                    OrgsCli::Reinstate { handle } => AdminCommand::OrgReinstate { handle },
                },
                AdminCli::Blocks { command } => match command {
                    BlocksCli::List => AdminCommand::BlocksList,
                    BlocksCli::Lift { ip } => AdminCommand::BlockLift { ip },
                },
                AdminCli::Payouts { command } => match command {
                    PayoutsCli::Report => AdminCommand::PayoutsReport,
                    PayoutsCli::Record {
                        handle,
                        amount,
                        currency,
                        reference,
                    } => AdminCommand::PayoutRecord {
                        handle,
                        amount,
                        currency,
                        reference,
                    },
                },
                AdminCli::Users {
                    command: UsersCli::MfaReset { email },
                } => AdminCommand::UserMfaReset { email },
                AdminCli::Backup {
                    file: Some(file), ..
                } => AdminCommand::Backup {
                    path: std::path::absolute(&file)
                        .with_context(|| format!("while finding where {} is", file.display()))?,
                },
                AdminCli::Backup { .. } => {
                    anyhow::bail!(
                        "name the file to write: `admin backup <file>` (or `admin backup verify <file>`)"
                    )
                }
                AdminCli::Blobs { .. } | AdminCli::Restore { .. } => {
                    anyhow::bail!("this command runs without the admin socket")
                }
            };
            admin(&config, &command, json).await
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    relay::logging::init(&config.log)?;
    let shutdown = shutdown_signal()?;
    let store = Store::open_with(&config.data_dir, &config.blobs)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("while binding {}", config.listen))?;
    let mailer = relay::mail::Mailer::from_config(&config.smtp, &config.public_url)?;
    relay::stripe::StripeApi::from_config(&config.stripe)
        .context("while setting up card payments ([stripe])")?;
    let state = AppState::new(config, store).with_mailer(mailer);
    relay::serve(listener, state, shutdown).await
}

async fn admin(config: &Config, command: &AdminCommand, json: bool) -> anyhow::Result<ExitCode> {
    let response = match relay::admin::send(&config.data_dir, command).await? {
        Some(response) => response,
        None => {
            let store = Store::open_with(&config.data_dir, &config.blobs).with_context(|| {
                format!(
                    "no relay answers on {} and the data directory cannot be opened (is a relay \
                     running there under another user?)",
                    relay::admin::socket_path(&config.data_dir).display()
                )
            })?;
            let response = relay::admin::execute(&store, Clock::system().now(), command);
            store.flush().await?;
            response
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        println!("{}", response.message);
    }
    Ok(if response.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `admin blobs migrate`: with the relay stopped, since it moves what a running relay reads.
async fn migrate_blobs(config: &Config, to: MigrateTo, json: bool) -> anyhow::Result<ExitCode> {
    if tokio::net::UnixStream::connect(relay::admin::socket_path(&config.data_dir))
        .await
        .is_ok()
    {
        anyhow::bail!(
            "a relay is running on {}: stop it first (it reads and writes the chunks being moved)",
            config.data_dir.display()
        );
    }
    let to = match to {
        MigrateTo::Files => relay::config::BlobBackend::Files,
        MigrateTo::S3 => relay::config::BlobBackend::S3,
    };
    let report = Store::migrate_blobs(&config.data_dir, &config.blobs.s3, to, |report| {
        if !json && report.bundles % 100 == 0 {
            eprintln!(
                "{} bundles, {} chunks ({} bytes) moved so far",
                report.bundles, report.chunks, report.bytes
            );
        }
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.from == report.to {
        println!("the chunks are already in {}: nothing to move", report.to);
    } else {
        println!(
            "moved the chunks of {} bundles from {} to {}: {} chunks, {} bytes copied, {} already \
             there, {} ended bundles' objects deleted. Set [blobs] backend = \"{}\" and start \
             the relay.",
            report.bundles,
            report.from,
            report.to,
            report.chunks,
            report.bytes,
            report.already_there,
            report.orphans_deleted,
            match to {
                relay::config::BlobBackend::Files => "files",
                relay::config::BlobBackend::S3 => "s3",
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `check-config`: the effective configuration as TOML, then every problem, on stdout.
fn check_config(file: Option<&std::path::Path>, flags: &FlagOverrides) -> ExitCode {
    let config = match Config::load_unchecked(file, flags) {
        Ok(config) => config,
        Err(error) => {
            println!("# the configuration cannot be read:\n# {error}");
            return ExitCode::FAILURE;
        }
    };
    match config.redacted_toml() {
        Ok(text) => println!("# effective configuration (secrets shown as ***)\n{text}"),
        Err(error) => println!("# the configuration cannot be printed: {error}"),
    }
    let problems = relay::config_problems(&config);
    if problems.is_empty() {
        println!("# no problems found");
        return ExitCode::SUCCESS;
    }
    println!("# {} problem(s):", problems.len());
    for problem in &problems {
        println!("# - {problem}");
    }
    ExitCode::FAILURE
}

/// `admin backup verify`: reads the whole archive; needs no relay and no data directory.
async fn verify_backup(file: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let checked = tokio::task::spawn_blocking(move || relay::store::verify_backup(&file))
        .await
        .context("the verification task failed")?;
    match checked {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "the backup is intact: {} files, {} bytes, each matching its SHA-256; the audit chain of {} entries verifies (relay {}, schema {}, taken at {} Unix time, chunks {})",
                    report.files,
                    report.bytes,
                    report.audit_entries,
                    report.manifest.relay_version,
                    report.manifest.schema_version,
                    report.manifest.created_at,
                    report.manifest.chunks_at
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `admin restore`: into an empty --data-dir, with no relay running there.
async fn restore_backup(config: &Config, file: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let (data_dir, blobs) = (config.data_dir.clone(), config.blobs.clone());
    let restored =
        tokio::task::spawn_blocking(move || relay::store::restore_backup(&file, &data_dir, &blobs))
            .await
            .context("the restore task failed")?;
    match restored {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "restored {} files ({} bytes) into {}, each matching its SHA-256; the audit chain of {} entries verifies. Start the relay on it.",
                    report.files,
                    report.bytes,
                    config.data_dir.display(),
                    report.audit_entries
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A checkpoint given on the command line: its text, or the file that holds it.
fn read_checkpoint(given: String) -> anyhow::Result<String> {
    let path = std::path::Path::new(&given);
    if !given.trim_start().starts_with('{') && !given.contains(':') && path.is_file() {
        return std::fs::read_to_string(path)
            .with_context(|| format!("while reading the checkpoint {}", path.display()));
    }
    Ok(given)
}

/// Installs the SIGTERM and SIGINT (Ctrl-C) handlers now, so that a signal arriving at any
/// moment after start-up shuts down gracefully, and returns the future that resolves on the
/// first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("while listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("while listening for Ctrl-C")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutdown signal received, finishing in-flight requests");
    })
}
