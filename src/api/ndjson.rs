//! Splitting a streamed NDJSON body into lines, holding at most one line in memory: a
//! line longer than the limit is dropped as it arrives and reported as too long.

/// One line of the body, without its `\n`.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes.
    Text(Vec<u8>),
    /// The line was longer than the limit; its bytes were dropped.
    TooLong,
}

/// Turns chunks of a body into lines.
#[derive(Debug)]
pub struct Lines {
    current: Vec<u8>,
    max_bytes: usize,
    overflowed: bool,
}

impl Lines {
    /// A splitter for lines of at most `max_bytes` bytes.
    pub fn new(max_bytes: usize) -> Self {
        Lines {
            current: Vec::new(),
            max_bytes,
            overflowed: false,
        }
    }

    /// Takes the next chunk; returns the lines it completes.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        while let Some(end) = chunk.iter().position(|byte| *byte == b'\n') {
            self.append(&chunk[..end]);
            lines.push(self.take());
            chunk = &chunk[end + 1..];
        }
        self.append(chunk);
        lines
    }

    /// The last line, if the body does not end with `\n`.
    pub fn finish(mut self) -> Option<Line> {
        (self.overflowed || !self.current.is_empty()).then(|| self.take())
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.overflowed {
            return;
        }
        if self.current.len() + bytes.len() > self.max_bytes {
            self.overflowed = true;
            self.current = Vec::new();
        } else {
            self.current.extend_from_slice(bytes);
        }
    }

    fn take(&mut self) -> Line {
        if std::mem::take(&mut self.overflowed) {
            Line::TooLong
        } else {
            Line::Text(std::mem::take(&mut self.current))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn joins_lines_across_chunks() {
        let mut lines = Lines::new(10);
        assert_eq!(lines.feed(b"ab"), []);
        assert_eq!(lines.feed(b"c\n\nde"), [text("abc"), text("")]);
        assert_eq!(lines.feed(b"f\ng"), [text("def")]);
        assert_eq!(lines.finish(), Some(text("g")));
    }

    #[test]
    fn drops_long_lines_and_goes_on() {
        let mut lines = Lines::new(4);
        assert_eq!(lines.feed(b"1234\n12"), [text("1234")]);
        assert_eq!(lines.feed(b"345"), []);
        assert_eq!(lines.feed(b"678\nok\n"), [Line::TooLong, text("ok")]);
        assert_eq!(lines.finish(), None);
        let mut lines = Lines::new(2);
        lines.feed(b"abc");
        assert_eq!(lines.finish(), Some(Line::TooLong));
    }
}
