//! Redaction of secret values from a task's output (issue 14), as CI
//! runners do: the values of the parameters the server marks secret are
//! replaced by `***` before any output leaves the agent — streamed, kept
//! in the spool, stored by the server. Output comes in chunks, so a value
//! cut in two by a chunk boundary is caught too: the last few characters
//! are held back until the next chunk (or the end).

/// Shortest value redacted: shorter ones would blank out ordinary words.
pub const MIN_LEN: usize = 4;
/// What a secret value becomes.
pub const MASK: &str = "***";

/// Streams text through, masking secret values.
#[derive(Debug, Default)]
pub struct Redactor {
    /// Longest first, so a value containing another is masked whole.
    secrets: Vec<String>,
    /// Characters held back: the longest value's length minus one.
    keep: usize,
    pending: String,
}

impl Redactor {
    /// A redactor for `values` (those shorter than [`MIN_LEN`] are left).
    pub fn new(values: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= MIN_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
        secrets.dedup();
        let keep = secrets
            .first()
            .map_or(0, |s| s.chars().count().saturating_sub(1));
        Redactor {
            secrets,
            keep,
            pending: String::new(),
        }
    }

    fn mask(&mut self) {
        for s in &self.secrets {
            if self.pending.contains(s.as_str()) {
                self.pending = self.pending.replace(s.as_str(), MASK);
            }
        }
    }

    /// Takes a chunk; returns what can be sent now (maybe empty).
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        if self.secrets.is_empty() {
            return std::mem::take(&mut self.pending);
        }
        self.mask();
        let chars = self.pending.chars().count();
        if chars <= self.keep {
            return String::new();
        }
        let cut = self
            .pending
            .char_indices()
            .nth(chars - self.keep)
            .map_or(self.pending.len(), |(i, _)| i);
        let rest = self.pending.split_off(cut);
        std::mem::replace(&mut self.pending, rest)
    }

    /// The rest, at the end of the output.
    pub fn finish(&mut self) -> String {
        self.mask();
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secrets: &[&str], chunks: &[&str]) -> String {
        let mut r = Redactor::new(secrets.iter().map(|s| s.to_string()));
        let mut out: String = chunks.iter().map(|c| r.push(c)).collect();
        out.push_str(&r.finish());
        out
    }

    #[test]
    fn secrets_are_masked_across_chunks() {
        assert_eq!(run(&["hunter22"], &["pw=hunter22\n"]), "pw=***\n");
        assert_eq!(
            run(&["hunter22"], &["pw=hun", "ter", "22 ok\n"]),
            "pw=*** ok\n"
        );
        // Every split point of a text with two secrets.
        let text = "a=s3cr3t-one b=ünïcode-two done";
        for i in 0..text.chars().count() {
            let at = text.char_indices().nth(i).map_or(text.len(), |(b, _)| b);
            let out = run(&["s3cr3t-one", "ünïcode-two"], &[&text[..at], &text[at..]]);
            assert_eq!(out, "a=*** b=*** done", "split at {i}");
        }
        // Short values are not masked; nothing held without secrets.
        assert_eq!(run(&["ab"], &["ab cd"]), "ab cd");
        let mut none = Redactor::new(Vec::<String>::new());
        assert_eq!(none.push("x"), "x");
        // A value inside a longer one: the longer is masked whole.
        assert_eq!(run(&["pass", "password1"], &["password1 pass"]), "*** ***");
    }
}
