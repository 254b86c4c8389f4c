//! The YAML nesting scan of [`limits`](super::limits): flow brackets and braces outside
//! quoted scalars and comments, plus block indentation levels, in one pass.
//!
//! Getting quotes right is what makes it sound: a bracket inside a quoted scalar does
//! not nest, and a quote inside a plain scalar (`don't`) opens nothing. The scan follows
//! libyaml's rules for where a node may start (after `: `, `- `, `? `, a line's
//! indentation, a property, and in flow context after `[`, `{`, `,` and `:`), tracks
//! multi-line plain scalars (a more indented line after a plain value continues it),
//! and refuses block scalars, whose text it would otherwise have to read as YAML.

// Used by the format features only: `serde` alone reads no text.
#![cfg_attr(
    not(any(feature = "toml", feature = "yaml", feature = "json")),
    allow(dead_code)
)]

use super::error::Limit;

/// What came before, for where a node (a quoted scalar, a flow collection) may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// The start of a line in block context (or of the text).
    LineStart,
    /// An indicator after which a node may start.
    Indicator,
    /// A tag or an anchor: a node may start after a blank.
    Property,
    /// A character of a plain scalar.
    Plain,
    /// The end of a quoted scalar, a flow collection, an alias or a comment.
    Closed,
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line_start: usize,
    flow: usize,
    /// Indentation of the open block collections.
    blocks: Vec<usize>,
    max: usize,
    prev: Prev,
    gap: bool,
    /// The indentation of the last line that began a node, and whether the last line
    /// ended inside a plain scalar (so that a more indented line continues it).
    last_indent: usize,
    last_plain: bool,
}

/// The deepest nesting of `b`, or why it cannot be bounded.
pub(super) fn depth(b: &[u8]) -> Result<usize, Limit> {
    let mut s = Scan {
        b,
        i: 0,
        line_start: 0,
        flow: 0,
        blocks: Vec::new(),
        max: 0,
        prev: Prev::LineStart,
        gap: true,
        last_indent: 0,
        last_plain: false,
    };
    s.start_line();
    while s.i < b.len() {
        s.step()?;
        s.i += 1;
    }
    Ok(s.max)
}

fn blank(c: Option<&u8>) -> bool {
    matches!(c, None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

impl Scan<'_> {
    fn node_may_start(&self) -> bool {
        match self.prev {
            Prev::LineStart | Prev::Indicator => true,
            Prev::Property => self.gap,
            Prev::Plain | Prev::Closed => false,
        }
    }

    fn set(&mut self, prev: Prev) {
        self.prev = prev;
        self.gap = false;
    }

    fn note_depth(&mut self) {
        self.max = self.max.max(self.blocks.len() + self.flow);
    }

    fn refuse(&self, what: &'static str) -> Limit {
        let line = 1 + self.b[..self.i].iter().filter(|&&c| c == b'\n').count();
        Limit::UnscannableYaml { line, what }
    }

    /// At the start of a line: indentation, block levels, and whether the line goes
    /// on with a plain scalar. Leaves `i` on the line's first character (or its end).
    fn start_line(&mut self) {
        self.line_start = self.i;
        if self.flow > 0 {
            return; // indentation means nothing inside a flow collection
        }
        let rest = &self.b[self.i..];
        let indent = rest.iter().take_while(|&&c| c == b' ').count();
        let first = rest.get(indent).copied();
        if matches!(first, None | Some(b'\n' | b'\r' | b'#')) {
            return; // blank or comment: changes nothing
        }
        self.gap = true;
        let marker = rest.starts_with(b"---") || rest.starts_with(b"...");
        if indent == 0 && marker && blank(rest.get(3)) {
            self.blocks.clear();
            self.i += 3;
            self.prev = Prev::LineStart;
            self.last_plain = false;
            return;
        }
        if self.last_plain && indent > self.last_indent {
            self.prev = Prev::Plain; // the plain scalar above goes on
            self.i += indent;
            return;
        }
        while self.blocks.last().is_some_and(|&top| top >= indent) {
            self.blocks.pop();
        }
        self.blocks.push(indent);
        self.note_depth();
        self.last_indent = indent;
        self.prev = Prev::LineStart;
        self.i += indent;
    }

    /// Reads the character at `i` (and any it spans), leaving `i` on the last one read.
    fn step(&mut self) -> Result<(), Limit> {
        let c = self.b[self.i];
        let next = self.b.get(self.i + 1);
        match c {
            b'\n' => {
                if self.flow == 0 {
                    self.last_plain = self.prev == Prev::Plain;
                }
                self.gap = true;
                self.i += 1;
                self.start_line();
                self.i = self.i.wrapping_sub(1); // the loop steps onto the line's start
            }
            b' ' | b'\t' | b'\r' => self.gap = true,
            b'#' if self.gap => {
                self.i = line_end(self.b, self.i).saturating_sub(1).max(self.i);
                self.set(Prev::Closed);
            }
            b'\'' | b'"' if self.node_may_start() => {
                self.i = self.quoted_end(c);
                self.set(Prev::Closed);
            }
            b'[' | b'{' if self.flow > 0 || self.node_may_start() => {
                self.flow += 1;
                self.note_depth();
                self.set(Prev::Indicator);
            }
            b']' | b'}' if self.flow > 0 => {
                self.flow -= 1;
                self.set(Prev::Closed);
            }
            b',' if self.flow > 0 => self.set(Prev::Indicator),
            b':' if blank(next)
                || (self.flow > 0
                    && (self.prev == Prev::Closed
                        || matches!(next, Some(b',' | b'[' | b']' | b'{' | b'}')))) =>
            {
                self.set(Prev::Indicator)
            }
            b'-' | b'?' if blank(next) && self.node_may_start() => {
                if self.flow == 0 {
                    self.blocks.push(self.i - self.line_start);
                    self.note_depth();
                }
                self.set(Prev::Indicator);
            }
            b'|' | b'>' if self.flow == 0 && self.node_may_start() => {
                return Err(self.refuse("a block scalar (`|` or `>`)"));
            }
            b'!' | b'&' | b'*' if self.node_may_start() => {
                while !self.token_ends_after(self.i) {
                    self.i += 1;
                }
                self.set(if c == b'*' {
                    Prev::Closed
                } else {
                    Prev::Property
                });
            }
            b'%' if self.i == self.line_start && self.flow == 0 => {
                self.i = line_end(self.b, self.i).saturating_sub(1).max(self.i);
            }
            _ => self.set(Prev::Plain),
        }
        Ok(())
    }

    /// Whether the token at `i` ends there: a blank follows, or in flow context a
    /// flow indicator.
    fn token_ends_after(&self, i: usize) -> bool {
        let next = self.b.get(i + 1);
        blank(next) || (self.flow > 0 && matches!(next, Some(b',' | b'[' | b']' | b'{' | b'}')))
    }

    /// The index of the quote that closes the quoted scalar opening at `i`.
    fn quoted_end(&self, quote: u8) -> usize {
        let b = self.b;
        let mut j = self.i + 1;
        while j < b.len() {
            match b[j] {
                b'\\' if quote == b'"' => j += 1,
                b'\'' if quote == b'\'' && b.get(j + 1) == Some(&b'\'') => j += 1,
                c if c == quote => return j,
                _ => {}
            }
            j += 1;
        }
        b.len()
    }
}

/// The index of the `\n` that ends the line at `i`, or the end.
/// (The TOML scan uses it too.)
pub(super) fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |n| i + n)
}
