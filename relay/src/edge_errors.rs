//! hyper's own error answers in the API's JSON error shape. When a request cannot be parsed
//! (a malformed request line or header: 400; headers too large or too many: 431; a URI too
//! long: 414), hyper answers by itself, before any router exists for the request, with an
//! empty body. This wrapper of the connection's byte stream recognises exactly such an answer
//! (a whole write that is a bare head with one of those statuses, `content-length: 0` and no
//! `content-type`, which no handler of the relay produces: every error of the router carries a
//! JSON body) and sends the same status with a `wire::ErrorResponse` body instead. Everything
//! else passes through untouched. It parses no request and adds no limit of its own.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose hyper-made error answers get a JSON body.
#[derive(Debug)]
pub struct JsonEdgeErrors<S> {
    inner: S,
    /// A rewritten answer and how much of it has been written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> JsonEdgeErrors<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> JsonEdgeErrors<S> {
    /// Writes what is left of a rewritten answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonEdgeErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonEdgeErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        if let Some(answer) = rewrite(buf) {
            self.pending = Some((answer, 0));
            // hyper has handed over its whole answer; the rest goes out with the next flush.
            if let Poll::Ready(Err(error)) = self.poll_drain(cx) {
                return Poll::Ready(Err(error));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    /// A head with its body in further slices (hyper's answer with content) passes through
    /// as one vectored write, with no copy; a lone slice is looked at as `poll_write` does.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut nonempty = bufs.iter().filter(|buf| !buf.is_empty());
        match (nonempty.next(), nonempty.next()) {
            (None, _) => Poll::Ready(Ok(0)),
            (Some(only), None) => self.poll_write(cx, only),
            (Some(_), Some(_)) => {
                ready!(self.poll_drain(cx))?;
                Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The JSON answer for `written`, if it is one of hyper's bodiless error answers.
fn rewrite(written: &[u8]) -> Option<Vec<u8>> {
    const END: &[u8] = b"\r\n\r\n";
    if written.len() > 1024 || !written.ends_with(END) {
        return None;
    }
    let head = std::str::from_utf8(&written[..written.len() - END.len()]).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let (code, message) = match status_line {
        "HTTP/1.1 400 Bad Request" => (
            "bad_request",
            "the request could not be read as HTTP/1.1 (a malformed request line or header)",
        ),
        "HTTP/1.1 414 URI Too Long" => ("uri_too_long", "the request's address is too long"),
        "HTTP/1.1 431 Request Header Fields Too Large" => (
            "headers_too_large",
            "the request's headers are too large or too many",
        ),
        _ => return None,
    };
    let headers: Vec<&str> = lines.collect();
    let bodiless = headers
        .iter()
        .any(|line| line.eq_ignore_ascii_case("content-length: 0"));
    let typed = headers.iter().any(|line| {
        line.get(..13)
            .is_some_and(|name| name.eq_ignore_ascii_case("content-type:"))
    });
    if !bodiless || typed {
        return None;
    }
    let body = serde_json::to_vec(&shared::wire::ErrorResponse {
        code: code.to_owned(),
        message: message.to_owned(),
    })
    .ok()?;
    let mut answer = String::with_capacity(256 + body.len());
    answer.push_str(status_line);
    answer.push_str("\r\n");
    for line in headers {
        if !line.eq_ignore_ascii_case("content-length: 0") {
            answer.push_str(line);
            answer.push_str("\r\n");
        }
    }
    answer.push_str("content-type: application/json\r\n");
    answer.push_str("x-content-type-options: nosniff\r\n");
    answer.push_str("cache-control: no-store\r\n");
    answer.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(&body);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn only_bodiless_parse_errors_are_rewritten() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 12:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewrite(hyper_431).expect("rewritten")).expect("text");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("date: Wed, 02 Dec 2026 12:00:00 GMT"));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(!head.contains("content-length: 0"));
        let error: shared::wire::ErrorResponse = serde_json::from_str(body).expect("JSON");
        assert_eq!(error.code, "headers_too_large");

        // The router's own answers carry a type and a body; other statuses pass too.
        for untouched in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
        ] {
            assert!(rewrite(untouched).is_none(), "{:?}", String::from_utf8_lossy(untouched));
        }
    }
}
