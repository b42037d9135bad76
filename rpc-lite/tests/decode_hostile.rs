//! The fuzz target's invariants as an ordinary, deterministic test: valid calls mutated
//! by a seeded generator (bytes flipped, cut short, lengths inflated) go through the
//! decoder and the server's dispatch without panicking, and every answer decodes,
//! answers the same call id and is written in the caller's representation.
//! (The fuzz target itself is `fuzz/fuzz_targets/message_decode.rs`.)

mod common;

use bytes::Bytes;
use common::demo_service::{DemoService, demo};
use common::raw_call;
use framing::{Long, Profile};
use rpc_lite::registry::{Started, poll_once, reply_message};
use rpc_lite::{Fault, Kind, Message, Registry};

/// xorshift64: small, seeded, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Bytes> {
    let mut out = Vec::new();
    for p in [Profile::BE32, Profile::LE64] {
        out.push(raw_call(p, 1, demo::procedure::add, &(Long(2), Long(3))));
        out.push(raw_call(p, 2, demo::procedure::divide, &(1i64, 0i64)));
        out.push(raw_call(
            p,
            3,
            demo::procedure::put,
            &("key".to_string(), "value".to_string()),
        ));
        out.push(raw_call(p, 4, demo::procedure::get, &("key".to_string(),)));
        out.push(raw_call(
            p,
            5,
            demo::procedure::echo,
            &(Bytes::from_static(b"hello"),),
        ));
        out.push(raw_call(p, 6, 0, &()));
    }
    out
}

fn mutate(rng: &mut Rng, seed: &Bytes) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    match rng.below(4) {
        0 => {
            let at = rng.below(bytes.len());
            bytes[at] = rng.next() as u8;
        }
        1 => bytes.truncate(rng.below(bytes.len() + 1)),
        2 => {
            // Inflate a would-be length field in the body to a huge value.
            let at = 36 + rng.below(bytes.len().saturating_sub(36).max(1));
            for b in bytes.iter_mut().skip(at).take(4) {
                *b = 0xff;
            }
        }
        _ => bytes.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
    }
    bytes
}

#[tokio::test]
async fn mutated_calls_never_panic_and_every_answer_is_well_formed() {
    let registry = Registry::new().with(demo::Server::new(DemoService::new(16)));
    let mut rng = Rng(0x5eed);
    let seeds = seeds();
    let (mut decoded, mut answered) = (0, 0);
    for i in 0..20_000 {
        let input = mutate(&mut rng, &seeds[i % seeds.len()]);
        let Ok(message) = Message::decode(Bytes::from(input.clone())) else {
            continue;
        };
        decoded += 1;
        assert_eq!(
            &message.to_bytes()[..],
            &input[..],
            "decode then encode is the identity"
        );
        if message.header.kind != Kind::Call {
            continue;
        }
        let call = message.header;
        let outcome = match registry.start(message) {
            Started::Now(outcome) => outcome,
            Started::Running(running) => match poll_once(running) {
                Ok(outcome) => outcome,
                Err(_) => continue,
            },
        };
        let answer = Message::decode(reply_message(&call, outcome, 1 << 20).to_bytes()).unwrap();
        assert_eq!(
            (answer.header.call_id, answer.header.profile),
            (call.call_id, call.profile)
        );
        if answer.header.kind == Kind::Error {
            Fault::decode(answer.body, call.profile).unwrap();
        }
        answered += 1;
    }
    assert!(
        decoded > 5_000 && answered > 5_000,
        "{decoded} decoded, {answered} answered"
    );
}
