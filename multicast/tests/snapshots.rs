//! insta snapshots of every `--help` and of the `demo` transcript (ports redacted).

mod common;

use common::run_multicast;

/// Replaces every port (the digits after the `:` that ends an IPv4 address or a `[...]` IPv6
/// address) with `PORT`.
fn redact_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut in_brackets, mut prev) = (false, ' ');
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '[' => in_brackets = true,
            ']' => in_brackets = false,
            _ => {}
        }
        let ends_address = prev == ']' || (prev.is_ascii_digit() && !in_brackets);
        if c == ':' && ends_address && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push_str("PORT");
        }
        prev = c;
    }
    out
}

#[test]
fn help_texts() {
    for sub in ["", "listen", "send", "chat", "demo", "doctor", "bench"] {
        let args: Vec<&str> = [sub, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let (code, out, err) = run_multicast(&args);
        assert_eq!(code, 0, "{err}");
        let name = if sub.is_empty() {
            "help".to_string()
        } else {
            format!("help_{sub}")
        };
        insta::assert_snapshot!(name, out);
    }
}

#[test]
fn demo_transcript() {
    let (code, out, err) = run_multicast(&["demo"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("demo", redact_ports(&out));
}

#[test]
fn redaction_touches_ports_only() {
    assert_eq!(
        redact_ports("from 127.0.0.1:4242, ttl 1: ok"),
        "from 127.0.0.1:PORT, ttl 1: ok"
    );
    assert_eq!(redact_ports("[ff02::4242]:99"), "[ff02::4242]:PORT");
}
