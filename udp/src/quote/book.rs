//! [`QuoteBook`]: the quotes a server hands out, loaded from a text file (one quote per line)
//! with its size bounded before it is read.

use std::path::Path;

use super::wire::MAX_QUOTE_BYTES;

/// Largest quotes file accepted (bytes), checked before reading it.
pub const MAX_BOOK_BYTES: u64 = 1 << 20;

/// The built-in quotes, used without `--quotes`.
const BUILTIN: &str = "\
Simplicity is prerequisite for reliability. (Edsger W. Dijkstra)
Be conservative in what you send, be liberal in what you accept. (Jon Postel, RFC 761)
The network is reliable. (the first fallacy of distributed computing)
There are two hard problems: cache invalidation, naming things, and off-by-one errors.
A datagram is a letter, not a phone call.
Premature optimization is the root of all evil. (Donald Knuth)
Make it work, make it right, make it fast. (Kent Beck)
";

/// Why a quotes file was refused.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// Could not read the file.
    #[error("cannot read quotes file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is larger than [`MAX_BOOK_BYTES`].
    #[error("quotes file is {0} bytes; the limit is {MAX_BOOK_BYTES}")]
    TooBig(u64),
    /// The file is not UTF-8.
    #[error("quotes file is not valid UTF-8")]
    NotUtf8,
    /// No quote lines.
    #[error(
        "quotes file has no quotes (one per line; blank lines and lines starting with # are skipped)"
    )]
    Empty,
    /// A quote does not fit in one reply datagram.
    #[error("quote on line {line} is {len} bytes; at most {MAX_QUOTE_BYTES} fit in one reply")]
    QuoteTooLong {
        /// 1-based line number.
        line: usize,
        /// Its length in bytes.
        len: usize,
    },
}

/// An ordered list of quotes, each short enough for one reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteBook {
    quotes: Vec<String>,
}

impl QuoteBook {
    /// The built-in quotes.
    pub fn builtin() -> Self {
        Self::from_text(BUILTIN).unwrap_or_else(|_| Self {
            quotes: vec!["No quotes.".into()],
        })
    }

    /// Reads a quotes file, refusing it if larger than [`MAX_BOOK_BYTES`].
    pub fn load(path: &Path) -> Result<Self, BookError> {
        let size = std::fs::metadata(path)?.len();
        if size > MAX_BOOK_BYTES {
            return Err(BookError::TooBig(size));
        }
        let bytes = std::fs::read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| BookError::NotUtf8)?;
        Self::from_text(&text)
    }

    /// One quote per line; blank lines and `#` comments skipped; surrounding spaces trimmed.
    pub fn from_text(text: &str) -> Result<Self, BookError> {
        let mut quotes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let quote = line.trim();
            if quote.is_empty() || quote.starts_with('#') {
                continue;
            }
            if quote.len() > MAX_QUOTE_BYTES {
                return Err(BookError::QuoteTooLong {
                    line: i + 1,
                    len: quote.len(),
                });
            }
            quotes.push(quote.to_string());
        }
        if quotes.is_empty() {
            return Err(BookError::Empty);
        }
        Ok(Self { quotes })
    }

    /// Number of quotes (never 0).
    pub fn len(&self) -> usize {
        self.quotes.len()
    }

    /// Always false: a book has at least one quote.
    pub fn is_empty(&self) -> bool {
        self.quotes.is_empty()
    }

    /// Quote `n`, wrapping around at the end.
    pub fn get(&self, n: u32) -> &str {
        &self.quotes[n as usize % self.quotes.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_quotes_fit() {
        assert!(QuoteBook::builtin().len() >= 5);
    }

    #[test]
    fn skips_blank_and_comment_lines_and_wraps() {
        let book = QuoteBook::from_text("# header\n\n one \ntwo\n").unwrap();
        assert_eq!(
            (book.len(), book.get(0), book.get(1), book.get(2)),
            (2, "one", "two", "one")
        );
    }

    #[test]
    fn refuses_empty_and_too_long() {
        assert!(matches!(
            QuoteBook::from_text("\n#x\n"),
            Err(BookError::Empty)
        ));
        let long = "x".repeat(MAX_QUOTE_BYTES + 1);
        assert!(matches!(
            QuoteBook::from_text(&format!("ok\n{long}\n")),
            Err(BookError::QuoteTooLong { line: 2, .. })
        ));
    }
}
