//! The benchmark's HTTP client: one keep-alive HTTP/1.1 connection over a tokio
//! `TcpStream`, one request at a time, bodies sized by `Content-Length`. It does no more
//! than the benchmark needs (no TLS, no chunked bodies, no redirects), so that its own
//! cost per request stays a small part of what is measured.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most response headers read.
const MAX_HEADERS: usize = 32;

/// Largest response body accepted.
const MAX_BODY: usize = 64 << 20;

/// One keep-alive connection to a daemon.
pub struct Connection {
    stream: TcpStream,
    /// `Host` and `Authorization` headers, written into every request.
    fixed_headers: String,
    request: Vec<u8>,
    /// Bytes read and not yet consumed.
    received: Vec<u8>,
}

/// An answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Connection {
    /// Connects to `host:port` (`authority`); every request presents `token`, if any.
    pub async fn open(authority: &str, token: Option<&str>) -> io::Result<Connection> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let mut fixed_headers = format!("Host: {authority}\r\n");
        if let Some(token) = token {
            fixed_headers.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        Ok(Connection {
            stream,
            fixed_headers,
            request: Vec::with_capacity(1024),
            received: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends `method path` with a JSON `body` (if any) and reads the answer.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> io::Result<Answer> {
        self.request.clear();
        self.request.extend_from_slice(method.as_bytes());
        self.request.push(b' ');
        self.request.extend_from_slice(path.as_bytes());
        self.request.extend_from_slice(b" HTTP/1.1\r\n");
        self.request
            .extend_from_slice(self.fixed_headers.as_bytes());
        if let Some(body) = body {
            self.request.extend_from_slice(
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            self.request.extend_from_slice(body);
        } else {
            self.request.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&self.request).await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> io::Result<Answer> {
        loop {
            if let Some((head, status, length)) = parse_head(&self.received)? {
                if length > MAX_BODY {
                    return Err(invalid(format!("a body of {length} bytes")));
                }
                while self.received.len() < head + length {
                    self.fill().await?;
                }
                let body = self.received[head..head + length].to_vec();
                self.received.drain(..head + length);
                return Ok(Answer { status, body });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.stream.read_buf(&mut self.received).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ));
        }
        Ok(())
    }
}

/// The head at the start of `bytes`, if it is complete: its length, the status and the
/// body's `Content-Length` (0 without one).
fn parse_head(bytes: &[u8]) -> io::Result<Option<(usize, u16, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(invalid(format!("a malformed answer: {error}"))),
    };
    let mut length = 0;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|value| value.trim().parse().ok())
                .ok_or_else(|| invalid("a malformed Content-Length".into()))?;
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid(
                "a chunked body, which the bench client does not read".into(),
            ));
        }
    }
    Ok(Some((head, response.code.unwrap_or(0), length)))
}

fn invalid(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the daemon sent {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_heads_with_and_without_a_body() {
        let answer = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1";
        assert_eq!(parse_head(answer).unwrap(), Some((43, 201, 2)));
        assert_eq!(
            parse_head(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap(),
            Some((27, 204, 0))
        );
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le").unwrap(), None);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
    }
}
