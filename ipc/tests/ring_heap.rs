//! The ring in one process over an ordinary heap buffer: model tests (proptest), many threads,
//! hostile headers and slots, the full/empty policies, and the same for the batch calls.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ipc::shm::layout::{self, W_CAPACITY, W_HEAD, W_MAGIC, W_SLOT_BYTES, W_TAIL, W_VERSION};
use ipc::shm::wait;
use ipc::shm::{
    FullPolicy, Geometry, HeapRegion, LayoutError, PopError, PushError, PushedBatch, Region, Ring,
    WaitError, WaitMode,
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
        // items stays 0: nobody was asleep, so the push bumped no futex word.
        (0x0c0, &[0, 0, 0, 0]),
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

// ---- The batch calls (the tuned variant) ----

/// Pops one batch of at most `max`, returning each slot's outcome as owned bytes.
fn pop_batch(
    ring: &Ring<HeapRegion>,
    max: usize,
) -> Result<Vec<Result<Vec<u8>, PopError>>, PopError> {
    let mut scratch = vec![0u8; ring.geometry().slot_bytes as usize];
    let mut got = Vec::new();
    let taken = ring.try_pop_batch(max, &mut scratch, |m| got.push(m.map(<[u8]>::to_vec)))?;
    assert_eq!(
        taken,
        got.len(),
        "the count is the number of slots handed out"
    );
    Ok(got)
}

#[derive(Debug, Clone)]
enum BatchOp {
    Push(Vec<Vec<u8>>),
    Pop(usize),
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    let message = proptest::collection::vec(any::<u8>(), 0..=12);
    prop_oneof![
        proptest::collection::vec(message, 0..7).prop_map(BatchOp::Push),
        (0usize..7).prop_map(BatchOp::Pop),
    ]
}

proptest! {
    /// Any sequence of batch pushes and pops behaves like a bounded FIFO queue, with short
    /// batches exactly when fewer slots are free or fewer messages published.
    #[test]
    fn batches_behave_like_a_bounded_fifo(ops in proptest::collection::vec(batch_op(), 0..200)) {
        let ring = ring(4, 12);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for op in ops {
            match op {
                BatchOp::Push(batch) => {
                    let slices: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
                    let room = 4 - model.len();
                    let expected = match batch.len().min(room) {
                        0 if !batch.is_empty() => Err(PushError::Full),
                        n => Ok(n),
                    };
                    prop_assert_eq!(ring.try_push_batch(&slices), expected);
                    model.extend(batch.into_iter().take(room));
                }
                BatchOp::Pop(max) => match pop_batch(&ring, max) {
                    Err(err) => {
                        prop_assert_eq!(err, PopError::Empty);
                        prop_assert!(model.is_empty() && max > 0);
                    }
                    Ok(got) => {
                        prop_assert_eq!(got.len(), max.min(model.len()));
                        for message in got {
                            prop_assert_eq!(message, Ok(model.pop_front().unwrap()));
                        }
                    }
                },
            }
            prop_assert_eq!(ring.len() as usize, model.len());
        }
    }
}

#[test]
fn a_push_batch_is_short_when_fewer_slots_are_free() {
    let r = ring(4, 8);
    r.try_push(b"old").unwrap();
    let batch: [&[u8]; 5] = [b"a", b"b", b"c", b"d", b"e"];
    assert_eq!(r.try_push_batch(&batch), Ok(3), "three slots were free");
    assert_eq!(r.try_push_batch(&batch), Err(PushError::Full));
    let got = pop_batch(&r, 10).unwrap();
    let expected: Vec<Result<Vec<u8>, PopError>> = [&b"old"[..], b"a", b"b", b"c"]
        .iter()
        .map(|m| Ok(m.to_vec()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_message_too_large_refuses_the_whole_batch() {
    let r = ring(4, 8);
    let batch: [&[u8]; 3] = [b"fits", b"nine bytes", b"fits"];
    assert_eq!(
        r.try_push_batch(&batch),
        Err(PushError::TooLarge { len: 10, max: 8 })
    );
    assert!(r.is_empty(), "nothing of the batch was written");
}

#[test]
fn a_pop_batch_stops_at_a_claimed_but_unpublished_slot() {
    let r = ring(4, 8);
    r.try_push(b"one").unwrap();
    // A producer claimed position 1 and has not published it (still writing, or killed).
    store(&r, W_TAIL, 2);
    r.try_push(b"three").unwrap();
    assert_eq!(pop_batch(&r, 4).unwrap(), vec![Ok(b"one".to_vec())]);
    assert_eq!(
        pop_batch(&r, 4),
        Err(PopError::Empty),
        "position 1 is not a message"
    );
}

#[test]
fn a_lying_length_inside_a_batch_is_corrupt_for_that_slot_only() {
    let r = ring(4, 8);
    let batch: [&[u8]; 3] = [b"first", b"second", b"third"];
    assert_eq!(r.try_push_batch(&batch), Ok(3));
    let slot1 = layout::HEADER_BYTES / 4 + r.geometry().slot_words();
    store(&r, slot1 + 1, u32::MAX);
    let got = pop_batch(&r, 8).unwrap();
    assert_eq!(
        got,
        vec![
            Ok(b"first".to_vec()),
            Err(PopError::Corrupt {
                len: u32::MAX,
                max: 8
            }),
            Ok(b"third".to_vec()),
        ]
    );
    assert_eq!(
        r.try_push_batch(&batch),
        Ok(3),
        "every slot was released, the corrupt one too"
    );
}

#[test]
fn a_pop_batch_needs_scratch_for_a_whole_slot_and_consumes_nothing_without() {
    let r = ring(4, 8);
    r.try_push(b"x").unwrap();
    let mut small = [0u8; 7];
    assert_eq!(
        r.try_pop_batch(4, &mut small, |_| panic!("nothing is handed out")),
        Err(PopError::BufferTooSmall { len: 8, buf: 7 })
    );
    assert_eq!(r.len(), 1);
}

#[test]
fn push_batch_when_full_fail_would_block_and_block_times_out() {
    let r = ring(2, 8);
    let batch: [&[u8]; 3] = [b"1", b"2", b"3"];
    let pushed = wait::push_batch(&r, &batch, FullPolicy::Fail, WaitMode::Block).unwrap();
    assert_eq!(
        pushed,
        PushedBatch {
            pushed: 2,
            dropped: 0
        }
    );
    assert_eq!(
        wait::push_batch(&r, &batch[2..], FullPolicy::Fail, WaitMode::Block),
        Err(WaitError::WouldBlock)
    );
    let timeout = Duration::from_millis(20);
    for mode in [WaitMode::Sleep, WaitMode::Block, WaitMode::Spin] {
        assert_eq!(
            wait::push_batch(&r, &batch[2..], FullPolicy::Block(timeout), mode),
            Err(WaitError::Timeout(timeout))
        );
    }
}

#[test]
fn pop_batch_on_an_empty_ring_times_out() {
    let r = ring(2, 8);
    let timeout = Duration::from_millis(20);
    let mut scratch = [0u8; 8];
    let got = wait::pop_batch(&r, 2, &mut scratch, timeout, WaitMode::Sleep, |_| {});
    assert_eq!(got, Err(WaitError::Timeout(timeout)));
}

#[test]
fn a_blocked_batch_producer_wakes_when_a_consumer_frees_slots() {
    let r = Arc::new(ring(2, 8));
    let batch: [&[u8]; 2] = [b"a", b"b"];
    wait::push_batch(&r, &batch, FullPolicy::Fail, WaitMode::Sleep).unwrap();
    let producer = {
        let r = Arc::clone(&r);
        std::thread::spawn(move || {
            let more: [&[u8]; 2] = [b"c", b"d"];
            let forever = FullPolicy::Block(Duration::from_secs(10));
            wait::push_batch(&r, &more, forever, WaitMode::Sleep)
        })
    };
    let mut seen = Vec::new();
    let mut scratch = [0u8; 8];
    while seen.len() < 3 {
        wait::pop_batch(
            &r,
            2,
            &mut scratch,
            Duration::from_secs(10),
            WaitMode::Sleep,
            |m| seen.push(m.unwrap()[0]),
        )
        .unwrap();
    }
    let pushed = producer.join().unwrap().unwrap().pushed;
    assert!(pushed >= 1, "at least one message once a slot was free");
    let rest = pop_batch(&r, 2).unwrap_or_default();
    seen.extend(rest.into_iter().map(|m| m.unwrap()[0]));
    assert_eq!(
        seen,
        &b"abcd"[..2 + pushed],
        "order kept, the pushed prefix delivered"
    );
}

#[test]
fn overwrite_oldest_with_a_batch_drops_the_oldest_and_pushes_all() {
    let r = ring(2, 8);
    let batch: [&[u8]; 5] = [b"1", b"2", b"3", b"4", b"5"];
    let pushed =
        wait::push_batch(&r, &batch, FullPolicy::OverwriteOldest, WaitMode::Block).unwrap();
    assert_eq!(
        pushed,
        PushedBatch {
            pushed: 5,
            dropped: 3
        }
    );
    let left: Vec<u8> = pop_batch(&r, 8)
        .unwrap()
        .into_iter()
        .map(|m| m.unwrap()[0])
        .collect();
    assert_eq!(left, b"45");
}

#[test]
fn batch_producers_and_consumers_deliver_every_message_once_in_producer_order() {
    const PRODUCERS: u32 = 3;
    const PER_PRODUCER: u32 = 6000;
    let r = Arc::new(ring(16, 8));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || push_numbered_batches(&r, p, PER_PRODUCER))
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || pop_numbered_batches(&r))
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    let per_consumer: Vec<Vec<(u32, u32)>> =
        consumers.into_iter().map(|c| c.join().unwrap()).collect();
    for got in &per_consumer {
        for p in 0..PRODUCERS {
            let order: Vec<u32> = got.iter().filter(|m| m.0 == p).map(|m| m.1).collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "producer {p} in order"
            );
        }
    }
    let all: HashSet<(u32, u32)> = per_consumer.iter().flatten().copied().collect();
    let total: usize = per_consumer.iter().map(Vec::len).sum();
    assert_eq!(total, (PRODUCERS * PER_PRODUCER) as usize);
    assert_eq!(all.len(), total, "no message twice");
}

/// Pushes `(producer, 0..count)` as 8-byte messages, in batches of up to 5.
fn push_numbered_batches(r: &Ring<HeapRegion>, producer: u32, count: u32) {
    let messages: Vec<[u8; 8]> = (0..count)
        .map(|i| {
            let mut m = [0u8; 8];
            m[..4].copy_from_slice(&producer.to_le_bytes());
            m[4..].copy_from_slice(&i.to_le_bytes());
            m
        })
        .collect();
    let mut sent = 0;
    while sent < messages.len() {
        let end = (sent + 5).min(messages.len());
        let batch: Vec<&[u8]> = messages[sent..end].iter().map(|m| &m[..]).collect();
        let forever = FullPolicy::Block(Duration::from_secs(10));
        sent += wait::push_batch(r, &batch, forever, WaitMode::Block)
            .unwrap()
            .pushed;
    }
}

/// Pops batches of up to 7 until none comes for 500 ms.
fn pop_numbered_batches(r: &Ring<HeapRegion>) -> Vec<(u32, u32)> {
    let mut got = Vec::new();
    let mut scratch = [0u8; 8];
    let quiet = Duration::from_millis(500);
    while wait::pop_batch(r, 7, &mut scratch, quiet, WaitMode::Block, |m| {
        let m = m.unwrap();
        let word = |at: usize| u32::from_le_bytes(m[at..at + 4].try_into().unwrap());
        got.push((word(0), word(4)));
    })
    .is_ok()
    {}
    got
}
