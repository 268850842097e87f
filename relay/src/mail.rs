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

    /// Sends an invitation with its link (`<public_url>/join#<token>`). The subject carries
    /// nothing a member typed; in the body, their names are quoted, cleaned of control and
    /// direction characters, cut short and marked as typed by them.
    pub async fn send_invite(
        &self,
        to: &str,
        invitation: &Invitation<'_>,
        token: &str,
    ) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().context("the invited address is not a mailbox")?;
        let link = format!("{}/join#{token}", self.public_url);
        let (subject, body) = invitation.text(&link);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body)
            .context("while building the invitation")?;
        self.transport
            .send(message)
            .await
            .context("the SMTP server did not take the invitation")?;
        Ok(())
    }

    /// Sends the link that confirms a sign-up (`<public_url>/confirm#<token>`).
    pub async fn send_signup_confirmation(&self, to: &str, token: &str) -> anyhow::Result<()> {
        let link = format!("{}/confirm#{token}", self.public_url);
        let (subject, body) = signup_confirmation_text(&link);
        self.send_text(to, &subject, body).await
    }

    /// Tells the holder of an address that has an account that someone tried to sign up with
    /// it (sent instead of a confirmation link, so the sign-up form's answer is the same).
    pub async fn send_signup_taken(&self, to: &str) -> anyhow::Result<()> {
        let (subject, body) = signup_taken_text(&self.public_url);
        self.send_text(to, &subject, body).await
    }

    /// Tells the holder of an address that has an account that an organisation invited it
    /// (sent instead of the invitation link, which that address could not use).
    pub async fn send_invite_taken(
        &self,
        to: &str,
        invitation: &Invitation<'_>,
    ) -> anyhow::Result<()> {
        let (subject, body) = invitation.taken_text(&self.public_url);
        self.send_text(to, &subject, body).await
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

/// What an invitation mail says about who invites: the words of the organisation's members,
/// which the relay only relays.
#[derive(Debug, Clone, Copy)]
pub struct Invitation<'a> {
    pub organisation: &'a str,
    pub handle: &'a str,
    pub inviter: &'a str,
    pub inviter_email: &'a str,
}

/// The longest member-typed name a mail repeats.
const MAX_QUOTED_CHARS: usize = 80;

/// A member-typed text as a mail may repeat it: control, format (bidirectional overrides,
/// zero-width) and line characters become spaces, runs of spaces one, at most
/// `MAX_QUOTED_CHARS` characters, in typographic quotes.
pub fn quoted(text: &str) -> String {
    let mut clean = String::new();
    for c in text.chars() {
        let unsafe_char = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2028}' | '\u{2029}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{201c}' | '\u{201d}');
        let c = if unsafe_char { ' ' } else { c };
        if c == ' ' && (clean.is_empty() || clean.ends_with(' ')) {
            continue;
        }
        clean.push(c);
    }
    let clean = clean.trim_end();
    let mut cut: String = clean.chars().take(MAX_QUOTED_CHARS).collect();
    if clean.chars().count() > MAX_QUOTED_CHARS {
        cut.push('…');
    }
    format!("\u{201c}{cut}\u{201d}")
}

impl Invitation<'_> {
    /// The subject and body.
    pub fn text(&self, link: &str) -> (String, String) {
        let body = format!(
            "{who} invites you to join it on Sealpost, where documents are end-to-end \
             encrypted: only the people they are meant for can read them.\n\n{vouch} The \
             relay's operator verified the organisation before it could invite anyone.\n\n\
             Open this link within a week to create your account:\n{link}\n\n\
             If you did not expect this, ignore this message.",
            who = self.who(),
            vouch = Self::VOUCH,
        );
        (Self::SUBJECT.to_owned(), body)
    }

    /// The subject and body of the notice sent instead of an invitation to an address that
    /// already has an account.
    pub fn taken_text(&self, public_url: &str) -> (String, String) {
        let body = format!(
            "{who} invited this address to join it on Sealpost. This address already has a \
             Sealpost account on this relay, and an address belongs to one organisation, so no \
             invitation link was sent.\n\n{vouch} If you want to join, ask them to invite \
             another of your addresses. Your account is unchanged: {public_url}/login\n\n\
             If you did not expect this, ignore this message.",
            who = self.who(),
            vouch = Self::VOUCH,
        );
        (Self::SUBJECT.to_owned(), body)
    }

    const SUBJECT: &'static str = "An invitation to an organisation on Sealpost";
    const VOUCH: &'static str = "The names in quotes were typed by that organisation's members; \
        Sealpost does not vouch for them.";

    /// Who invites, with every member-typed name quoted.
    fn who(&self) -> String {
        format!(
            "{inviter} <{email}> of the organisation {organisation} (handle: {handle})",
            inviter = quoted(self.inviter),
            email = self.inviter_email,
            organisation = quoted(self.organisation),
            handle = self.handle,
        )
    }
}

/// The subject and body of a sign-up's confirmation mail. It repeats nothing typed on the
/// sign-up form (anyone can type any address there), so the relay carries no stranger's words.
pub fn signup_confirmation_text(link: &str) -> (String, String) {
    let subject = "Confirm your address to create your Sealpost account".to_owned();
    let body = format!(
        "Someone, we hope you, asked to create a Sealpost account and organisation with this \
         address.\n\n\
         Open this link within 24 hours to create them, then log in with the password you \
         chose:\n{link}\n\n\
         If it was not you, ignore this message: nothing is created without the link."
    );
    (subject, body)
}

/// The subject and body of the notice sent when someone signs up with a taken address.
pub fn signup_taken_text(public_url: &str) -> (String, String) {
    let subject = "Someone tried to create a Sealpost account with your address".to_owned();
    let body = format!(
        "Someone tried to create a new Sealpost account with this address, which already has \
         an account on this relay. Nothing was changed.\n\n\
         If it was you, log in instead: {public_url}/login\n\n\
         If it was not you, ignore this message."
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_typed_names_are_quoted_cleaned_and_never_in_the_subject() {
        let invitation = Invitation {
            organisation: "Acme Bank\r\nBcc: victim@example.com\r\n\r\nYour account is locked",
            handle: "acme",
            inviter: "IT \u{202e}moc.live\u{202c} Desk\u{200b}\u{201d} click https://evil.example",
            inviter_email: "it@acme.example",
        };
        let (subject, body) = invitation.text("https://relay.example/join#t");
        assert_eq!(subject, "An invitation to an organisation on Sealpost");
        assert!(
            body.starts_with(
                "\u{201c}IT moc.live Desk click https://evil.example\u{201d} <it@acme.example> of the organisation"
            ),
            "{body}"
        );
        assert!(body.contains(
            "\u{201c}Acme Bank Bcc: victim@example.com Your account is locked\u{201d} (handle: acme)"
        ));
        assert!(body.contains("typed by that organisation's members"));
        let line_starts: Vec<&str> = body.lines().collect();
        assert!(
            !line_starts
                .iter()
                .any(|line| line.starts_with("Bcc:") || line.starts_with("Your account")),
            "no member-typed text starts a line: {body}"
        );
        let (_, taken) = invitation.taken_text("https://relay.example");
        assert!(taken.contains(
            "\u{201c}Acme Bank Bcc: victim@example.com Your account is locked\u{201d} (handle: acme)"
        ));
        assert!(
            !taken.contains("/join#"),
            "no link for an address that has an account"
        );
        assert!(body.contains("invites you to join it") && taken.contains("invited this address"));
        let long = "x".repeat(500);
        assert_eq!(quoted(&long).chars().count(), MAX_QUOTED_CHARS + 3);
    }
}
