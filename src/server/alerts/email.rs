//! Email over SMTP: the transport `FAULTLINE_SMTP_URL` describes, and sending one message with
//! its text and HTML parts, its stable `Message-ID` and (for members) a one-click unsubscribe.

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// An SMTP relay and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why a message did not go.
#[derive(Debug)]
pub struct SendError {
    /// The server refused for good (a 5xx reply): retrying will not help.
    pub permanent: bool,
    pub message: String,
}

impl Mailer {
    /// Reads `smtp://user:pass@host:587` (STARTTLS), `smtps://…:465` (implicit TLS) or
    /// `smtp://…?tls=none` (plain, for a local relay only).
    pub fn from_url(url: &str, from: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("FAULTLINE_SMTP_URL is not a URL: {e}"))?;
        let host = parsed.host_str().ok_or("FAULTLINE_SMTP_URL has no host")?.to_owned();
        let plain = parsed.query_pairs().any(|(k, v)| k == "tls" && v == "none");
        let builder = match (parsed.scheme(), plain) {
            ("smtps", _) => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
                .map_err(|e| e.to_string())?
                .port(parsed.port().unwrap_or(465)),
            ("smtp", false) => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|e| e.to_string())?
                .port(parsed.port().unwrap_or(587)),
            ("smtp", true) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(parsed.port().unwrap_or(25))
            }
            _ => return Err("FAULTLINE_SMTP_URL must start with smtp:// or smtps://".into()),
        };
        let mut builder = builder.timeout(Some(Duration::from_secs(10)));
        if !parsed.username().is_empty() {
            builder = builder.credentials(Credentials::new(
                percent_decode(parsed.username()),
                percent_decode(parsed.password().unwrap_or_default()),
            ));
        }
        let from: Mailbox = from.parse().map_err(|e| format!("FAULTLINE_EMAIL_FROM is not an address: {e}"))?;
        Ok(Self { transport: builder.build(), from })
    }

    /// Whether the relay answers (a connection and SMTP `NOOP`, with the configured TLS and login).
    pub async fn check(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the relay did not answer NOOP".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Sends one email to `to`.
    pub async fn send(&self, to: &str, mail: &Outgoing<'_>) -> Result<String, SendError> {
        let to: Mailbox =
            to.parse().map_err(|e| SendError { permanent: true, message: format!("bad address {to:?}: {e}") })?;
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<{}@faultline>", mail.id)));
        if let Some(u) = mail.unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{u}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(mail.text.to_owned(), mail.html.to_owned()))
            .map_err(|e| SendError { permanent: true, message: format!("could not build the email: {e}") })?;
        match self.transport.send(message).await {
            Ok(reply) => Ok(reply.message().collect::<Vec<_>>().join(" ")),
            Err(e) => Err(SendError { permanent: e.is_permanent(), message: format!("SMTP: {e}") }),
        }
    }
}

/// One email as sent.
pub struct Outgoing<'a> {
    /// The delivery's id: the `Message-ID`, the same on every attempt.
    pub id: uuid::Uuid,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub unsubscribe: Option<&'a str>,
}

/// Decodes `%xx` escapes of a URL's user name or password.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_the_tls_mode_and_refuse_others() {
        assert!(Mailer::from_url("smtp://u:p%40ss@mail.example.com:587", "alerts@example.com").is_ok());
        assert!(Mailer::from_url("smtps://mail.example.com", "alerts@example.com").is_ok());
        assert!(Mailer::from_url("smtp://127.0.0.1:2525?tls=none", "faultline <alerts@example.com>").is_ok());
        assert!(Mailer::from_url("http://mail.example.com", "alerts@example.com").is_err());
        assert!(Mailer::from_url("smtp://mail.example.com", "not an address").is_err());
        assert_eq!(percent_decode("p%40ss%2"), "p@ss%2");
    }
}
