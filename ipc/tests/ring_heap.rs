//! The ring in one process over an ordinary heap buffer: model tests (proptest), many threads,
//! hostile headers and slots, the full/empty policies.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ipc::shm::layout::{self, W_CAPACITY, W_HEAD, W_MAGIC, W_SLOT_BYTES, W_TAIL, W_VERSION};
use ipc::shm::wait;
use ipc::shm::{
    FullPolicy, Geometry, HeapRegion, LayoutError, PopError, PushError, Region, Ring, WaitError,
    WaitMode,
};
use proptest::prelude::*;

fn ring(capacity: u32, slot_bytes: u32) -> Ring<HeapRegion> {
    let geometry = Geometry::new(capacity, slot_bytes).unwrap();
    Ring::create(HeapRegion::for_geometry(geometry), geometry).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<u8>),
    Pop,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..=13).prop_map(Op::Push),
        Just(Op::Pop),
    ]
}

proptest! {
    /// Any sequence of pushes and pops behaves like a bounded FIFO queue (a VecDeque).
    #[test]
    fn the_ring_behaves_like_a_bounded_fifo(ops in proptest::collection::vec(op(), 0..300)) {
        let ring = ring(4, 12);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut buf = [0u8; 12];
        for op in ops {
            match op {
                Op::Push(msg) if msg.len() > 12 => {
                    prop_assert_eq!(ring.try_push(&msg), Err(PushError::TooLarge { len: msg.len(), max: 12 }));
                }
                Op::Push(msg) if model.len() == 4 => prop_assert_eq!(ring.try_push(&msg), Err(PushError::Full)),
                Op::Push(msg) => {
                    prop_assert_eq!(ring.try_push(&msg), Ok(()));
                    model.push_back(msg);
                }
                Op::Pop => match model.pop_front() {
                    None => prop_assert_eq!(ring.try_pop(&mut buf), Err(PopError::Empty)),
                    Some(expected) => {
                        let len = ring.try_pop(&mut buf).unwrap();
                        prop_assert_eq!(&buf[..len], &expected[..]);
                    }
                },
            }
            prop_assert_eq!(ring.len() as usize, model.len());
        }
    }

    /// Whatever bytes a hostile peer puts in the header, attaching never panics, and a ring that
    /// is accepted has a geometry matching the real size.
    #[test]
    fn any_header_is_checked_without_panicking(words in proptest::collection::vec(any::<u32>(), 64..=64), extra in 0usize..200) {
        let region = HeapRegion::new(64 + extra);
        for (i, w) in words.iter().enumerate() {
            region.words()[i].store(*w, Ordering::Relaxed);
        }
        if let Ok(ring) = Ring::attach(region) {
            prop_assert_eq!(ring.geometry().segment_words(), 64 + extra);
        }
    }
}

#[test]
fn several_producers_and_consumers_deliver_every_message_exactly_once() {
    let ring = Arc::new(ring(8, 16));
    const PRODUCERS: u32 = 4;
    const PER_PRODUCER: u32 = 5000;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    let msg = format!("{p}:{i}");
                    wait::push(
                        &ring,
                        msg.as_bytes(),
                        FullPolicy::Block(Duration::from_secs(10)),
                        WaitMode::Block,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 16];
                while let Ok(len) =
                    wait::pop(&ring, &mut buf, Duration::from_millis(500), WaitMode::Block)
                {
                    got.push(String::from_utf8(buf[..len].to_vec()).unwrap());
                }
                got
            })
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    let all: Vec<String> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), (PRODUCERS * PER_PRODUCER) as usize);
    assert_eq!(distinct.len(), all.len(), "no message twice");
}

#[test]
fn per_producer_order_is_kept_with_one_consumer_spinning() {
    let ring = Arc::new(ring(4, 8));
    let producer = {
        let ring = Arc::clone(&ring);
        std::thread::spawn(move || {
            for i in 0..20_000u32 {
                wait::push(
                    &ring,
                    &i.to_le_bytes(),
                    FullPolicy::Block(Duration::from_secs(10)),
                    WaitMode::Spin,
                )
                .unwrap();
            }
        })
    };
    let mut buf = [0u8; 8];
    for expected in 0..20_000u32 {
        let len = wait::pop(&ring, &mut buf, Duration::from_secs(10), WaitMode::Spin).unwrap();
        assert_eq!(u32::from_le_bytes(buf[..len].try_into().unwrap()), expected);
    }
    producer.join().unwrap();
}

fn store(ring: &Ring<HeapRegion>, word: usize, value: u32) {
    ring.region().words()[word].store(value, Ordering::Relaxed);
}

fn reattach(ring: Ring<HeapRegion>) -> Result<Ring<HeapRegion>, LayoutError> {
    let geometry = ring.geometry();
    let region = HeapRegion::new(geometry.segment_words());
    for (to, from) in region.words().iter().zip(ring.region().words()) {
        to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    Ring::attach(region)
}

#[test]
fn a_healthy_segment_is_accepted() {
    assert!(reattach(ring(4, 16)).is_ok());
}

#[test]
fn wrong_magic_and_version_are_refused() {
    let r = ring(4, 16);
    store(&r, W_MAGIC, 0xdead_beef);
    assert_eq!(reattach(r).unwrap_err(), LayoutError::BadMagic(0xdead_beef));
    let r = ring(4, 16);
    store(&r, W_VERSION, 2);
    assert_eq!(reattach(r).unwrap_err(), LayoutError::BadVersion(2));
}

#[test]
fn a_lying_capacity_or_slot_size_is_refused() {
    let r = ring(4, 16);
    store(&r, W_CAPACITY, 8);
    assert!(matches!(
        reattach(r).unwrap_err(),
        LayoutError::SizeMismatch { .. }
    ));
    let r = ring(4, 16);
    store(&r, W_CAPACITY, 3);
    assert_eq!(reattach(r).unwrap_err(), LayoutError::BadCapacity(3));
    let r = ring(4, 16);
    store(&r, W_SLOT_BYTES, 15);
    assert_eq!(reattach(r).unwrap_err(), LayoutError::BadSlotBytes(15));
    let r = ring(4, 16);
    store(&r, W_SLOT_BYTES, u32::MAX);
    assert_eq!(
        reattach(r).unwrap_err(),
        LayoutError::BadSlotBytes(u32::MAX)
    );
}

#[test]
fn counters_out_of_range_are_refused() {
    let r = ring(4, 16);
    store(&r, W_TAIL, 9);
    store(&r, W_HEAD, 2);
    assert!(matches!(
        reattach(r).unwrap_err(),
        LayoutError::CountersOutOfRange {
            tail: 9,
            head: 2,
            capacity: 4
        }
    ));
}

#[test]
fn a_region_smaller_than_the_header_is_refused() {
    assert_eq!(
        Ring::attach(HeapRegion::new(10)).unwrap_err(),
        LayoutError::TooSmall(40)
    );
}

#[test]
fn a_slot_claiming_a_length_above_the_slot_size_is_dropped_not_read() {
    let r = ring(4, 16);
    r.try_push(b"good").unwrap();
    let slot0 = layout::HEADER_BYTES / 4;
    store(&r, slot0 + 1, 1_000_000);
    let mut buf = [0u8; 16];
    assert_eq!(
        r.try_pop(&mut buf),
        Err(PopError::Corrupt {
            len: 1_000_000,
            max: 16
        })
    );
    r.try_push(b"next").unwrap();
    assert_eq!(
        r.try_pop(&mut buf),
        Ok(4),
        "the ring goes on after a corrupt slot"
    );
}

#[test]
fn a_producer_that_died_after_its_claim_leaves_a_slot_consumers_never_read() {
    let r = ring(4, 16);
    r.try_push(b"whole").unwrap();
    // What a producer killed mid-write leaves: the tail advanced, half a payload, no publish.
    let slot1 = layout::HEADER_BYTES / 4 + r.geometry().slot_words();
    store(&r, W_TAIL, 2);
    store(&r, slot1 + 1, 16);
    store(&r, slot1 + 2, u32::from_le_bytes(*b"half"));
    let mut buf = [0u8; 16];
    assert_eq!(r.try_pop(&mut buf), Ok(5));
    assert_eq!(
        r.try_pop(&mut buf),
        Err(PopError::Empty),
        "the unpublished slot is not a message"
    );
    let waited = wait::pop(&r, &mut buf, Duration::from_millis(20), WaitMode::Block);
    assert_eq!(waited, Err(WaitError::Timeout(Duration::from_millis(20))));
}

#[test]
fn a_short_buffer_consumes_nothing() {
    let r = ring(4, 16);
    r.try_push(b"twelve bytes").unwrap();
    let mut small = [0u8; 4];
    assert_eq!(
        r.try_pop(&mut small),
        Err(PopError::BufferTooSmall { len: 12, buf: 4 })
    );
    assert_eq!(r.try_pop(&mut [0u8; 16]), Ok(12));
}

#[test]
fn when_full_fail_returns_would_block_and_block_times_out() {
    let r = ring(2, 8);
    for _ in 0..2 {
        wait::push(&r, b"x", FullPolicy::Fail, WaitMode::Block).unwrap();
    }
    assert_eq!(
        wait::push(&r, b"x", FullPolicy::Fail, WaitMode::Block),
        Err(WaitError::WouldBlock)
    );
    let timeout = Duration::from_millis(20);
    assert_eq!(
        wait::push(&r, b"x", FullPolicy::Block(timeout), WaitMode::Block),
        Err(WaitError::Timeout(timeout))
    );
    assert_eq!(
        wait::push(&r, b"x", FullPolicy::Block(timeout), WaitMode::Spin),
        Err(WaitError::Timeout(timeout))
    );
}

#[test]
fn a_blocked_producer_wakes_when_a_consumer_frees_a_slot() {
    let r = Arc::new(ring(2, 8));
    wait::push(&r, b"first", FullPolicy::Fail, WaitMode::Block).unwrap();
    wait::push(&r, b"other", FullPolicy::Fail, WaitMode::Block).unwrap();
    let producer = {
        let r = Arc::clone(&r);
        std::thread::spawn(move || {
            wait::push(
                &r,
                b"second",
                FullPolicy::Block(Duration::from_secs(10)),
                WaitMode::Block,
            )
        })
    };
    let mut buf = [0u8; 8];
    assert_eq!(
        wait::pop(&r, &mut buf, Duration::from_secs(10), WaitMode::Block),
        Ok(5)
    );
    producer.join().unwrap().unwrap();
    assert_eq!(
        wait::pop(&r, &mut buf, Duration::from_secs(10), WaitMode::Block),
        Ok(5)
    );
    assert_eq!(
        wait::pop(&r, &mut buf, Duration::from_secs(10), WaitMode::Block),
        Ok(6)
    );
}

#[test]
fn a_single_slot_ring_is_refused() {
    assert_eq!(Geometry::new(1, 8), Err(LayoutError::BadCapacity(1)));
}

#[test]
fn overwrite_oldest_drops_the_oldest_messages() {
    let r = ring(2, 8);
    for m in [b"1", b"2", b"3", b"4"] {
        wait::push(&r, m, FullPolicy::OverwriteOldest, WaitMode::Block).unwrap();
    }
    let mut buf = [0u8; 8];
    let left: Vec<u8> = std::iter::from_fn(|| r.try_pop(&mut buf).ok().map(|_| buf[0])).collect();
    assert_eq!(left, b"34");
}

#[test]
fn overwrite_oldest_with_concurrent_consumers_never_duplicates() {
    let r = Arc::new(ring(4, 8));
    let consumer = {
        let r = Arc::clone(&r);
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 8];
            while let Ok(len) = wait::pop(&r, &mut buf, Duration::from_millis(300), WaitMode::Block)
            {
                seen.push(u32::from_le_bytes(buf[..len].try_into().unwrap()));
            }
            seen
        })
    };
    let mut dropped = 0;
    for i in 0..20_000u32 {
        dropped += push_overwriting(&r, i);
    }
    let seen = consumer.join().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "order kept, nothing twice"
    );
    assert_eq!(
        seen.len() as u32 + dropped,
        20_000,
        "every message either delivered or counted as dropped"
    );
}

/// Pushes with OverwriteOldest, trying again when it reports WouldBlock: the documented
/// answer when the oldest slot is still being read (a consumer the machine paused mid-copy).
/// Returns how many old messages were dropped to make room.
fn push_overwriting(r: &Ring<HeapRegion>, i: u32) -> u32 {
    for _ in 0..10_000 {
        match wait::push(
            r,
            &i.to_le_bytes(),
            FullPolicy::OverwriteOldest,
            WaitMode::Block,
        ) {
            Ok(pushed) => return pushed.dropped,
            Err(WaitError::WouldBlock) => std::thread::yield_now(),
            Err(other) => panic!("push {i}: {other}"),
        }
    }
    panic!("push {i}: the oldest slot stayed busy through 10,000 tries");
}

/// The example in PROTOCOL.md, byte for byte.
#[test]
fn the_protocol_example_is_what_the_ring_writes() {
    let r = ring(4, 16);
    wait::push(&r, b"hi", FullPolicy::Fail, WaitMode::Block).unwrap();
    let bytes: Vec<u8> = r
        .region()
        .words()
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
        .collect();
    let mut expected = vec![0u8; 352];
    let golden: [(usize, &[u8]); 9] = [
        (
            0x000,
            &[
                0x49, 0x50, 0x43, 0x52, 1, 0, 0, 0, 4, 0, 0, 0, 0x10, 0, 0, 0,
            ],
        ),
        (0x040, &[1, 0, 0, 0]),
        (0x0c0, &[1, 0, 0, 0]),
        (0x100, &[1, 0, 0, 0, 2, 0, 0, 0, 0x68, 0x69]),
        (0x118, &[1, 0, 0, 0]),
        (0x130, &[2, 0, 0, 0]),
        (0x148, &[3, 0, 0, 0]),
        (0x080, &[0, 0, 0, 0]),
        (0x0c4, &[0, 0, 0, 0]),
    ];
    for (offset, field) in golden {
        expected[offset..offset + field.len()].copy_from_slice(field);
    }
    assert_eq!(bytes, expected);
}
