//! What varies from run to run in a program's output, and the placeholders that replace it
//! in snapshots.
//!
//! A snapshot must be the same on every run and every machine, so the few things that are not
//! (ephemeral ports, measured times, rates) are replaced by `[PORT]`, `[TIME]` and `[RATE]`
//! before comparing. Addresses themselves stay: they are 127.0.0.1, ::1 or a fixed group,
//! which is part of what the output teaches. The list is plain data (regex, replacement) so
//! the tests hand it to insta's `Settings::add_filter`, and a reader sees exactly what is
//! hidden from the snapshots.

/// Regex and replacement pairs, applied in this order.
pub const FILTERS: &[(&str, &str)] = &[
    // IPv4 socket address: keep the IP, hide the port (`127.0.0.1:[PORT]`).
    (r"\b(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}\b", "$1:[PORT]"),
    // IPv6 socket address: `[::1]:[PORT]`.
    (r"\[([0-9A-Fa-f:.%a-z0-9]+)\]:\d{1,5}\b", "[$1]:[PORT]"),
    // Rates: `12.5 MB/s`, `3000 msg/s`, `rt/s=1234` and `1234 rt/s`.
    (r"\b\d+(?:\.\d+)?\s?(?:[kMG]?B/s|[a-z]+/s)\b", "[RATE]"),
    // Durations: `300 ms`, `1.5s`, `12µs`, `40 ns`.
    (r"\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s)\b", "[TIME]"),
];

/// Applies [`FILTERS`] to `text` outside of insta (for messages and the replayer's reports).
pub fn redact(text: &str) -> String {
    FILTERS
        .iter()
        .fold(text.to_string(), |acc, (pattern, replacement)| {
            // Patterns are constants checked by the tests below; a bad one is a bug here.
            let re = regex::Regex::new(pattern).expect("redaction patterns are valid");
            re.replace_all(&acc, *replacement).into_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_ports_but_keeps_addresses() {
        assert_eq!(
            redact("listening on 127.0.0.1:33177"),
            "listening on 127.0.0.1:[PORT]"
        );
        assert_eq!(
            redact("listening on [::1]:7007"),
            "listening on [::1]:[PORT]"
        );
        assert_eq!(
            redact("-> 239.255.42.99:60652 \"hi\""),
            "-> 239.255.42.99:[PORT] \"hi\""
        );
    }

    #[test]
    fn hides_times_and_rates_but_not_counts() {
        assert_eq!(redact("nothing within 300 ms"), "nothing within [TIME]");
        assert_eq!(redact("took 1.5s, 12 MB/s"), "took [TIME], [RATE]");
        assert_eq!(
            redact("12 bytes, 3 members, item 5"),
            "12 bytes, 3 members, item 5"
        );
    }
}
