//! Outgoing mail through SMTP (lettre) when `[smtp]` is configured: invitations, notices that
//! documents arrived, and request reminders. A message carries only what its recipient needs
//! (who invites them to what and the link; what arrived and where to log in); it never carries
//! document content or a link secret, which the relay does not have.

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::config::SmtpConfig;

/// A configured mail sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// `None` when mail is off (no URL); an error when it is on but unusable.
    pub fn from_config(config: &SmtpConfig, public_url: &str) -> anyhow::Result<Option<Self>> {
        if config.url.is_empty() {
            return Ok(None);
        }
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(config.url.dangerously_expose())
                .context("the [smtp] url is not a valid SMTP URL")?
                .timeout(Some(std::time::Duration::from_secs(15)))
                .build();
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("[smtp] from {:?} is not a mailbox", config.from))?;
        anyhow::ensure!(
            public_url.starts_with("https://") || public_url.starts_with("http://"),
            "mail needs public_url, the relay's address, e.g. https://sealpost.example.com"
        );
        Ok(Some(Self {
            transport,
            from,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }))
    }

    /// Sends an invitation with its link (`<public_url>/join#<token>`).
    pub async fn send_invite(
        &self,
        to: &str,
        organisation: &str,
        inviter: &str,
        token: &str,
    ) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().context("the invited address is not a mailbox")?;
        let link = format!("{}/join#{token}", self.public_url);
        let body = format!(
            "{inviter} invites you to join {organisation} on Sealpost, where documents are \
             end-to-end encrypted: only the people they are meant for can read them.\n\n\
             Open this link within a week to create your account:\n{link}\n\n\
             If you did not expect this, ignore this message."
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("You are invited to {organisation} on Sealpost"))
            .body(body)
            .context("while building the invitation")?;
        self.transport
            .send(message)
            .await
            .context("the SMTP server did not take the invitation")?;
        Ok(())
    }

    /// Tells `to` that something awaits them at `<public_url><path>` (what arrived, never its
    /// content, which the relay does not have).
    pub async fn send_notice(&self, to: &str, subject: &str, path: &str) -> anyhow::Result<()> {
        let body = format!(
            "{subject}.\n\nLog in to Sealpost to read it:\n{}{path}\n\n\
             It is end-to-end encrypted: only you and the people it was meant for can open it.",
            self.public_url
        );
        self.send_text(to, subject, body).await
    }

    /// A reminder about a request (`body` says which; it never carries a link secret).
    pub async fn send_reminder(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        self.send_text(to, subject, body).await
    }

    /// Where the app lives, for links in mail.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    async fn send_text(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().context("the address is not a mailbox")?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body)
            .context("while building a message")?;
        self.transport
            .send(message)
            .await
            .context("the SMTP server did not take the message")?;
        Ok(())
    }
}
