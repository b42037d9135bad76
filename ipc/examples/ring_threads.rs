//! The shared-memory ring's logic with no shared memory at all: two producer threads and two
//! consumer threads on a ring over an ordinary heap buffer (`HeapRegion`), the way the ring is
//! tested. Run: `cargo run -p ipc --example ring_threads`. Prints how many messages each consumer
//! took (they always add up to 2000).

use std::sync::Arc;
use std::time::Duration;

use ipc::shm::{FullPolicy, Geometry, HeapRegion, Ring, WaitMode, wait};

fn main() {
    let geometry = Geometry::new(8, 16).expect("a valid geometry");
    let ring =
        Arc::new(Ring::create(HeapRegion::for_geometry(geometry), geometry).expect("fresh region"));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                for i in 0..1000 {
                    let message = format!("p{p} #{i}");
                    wait::push(
                        &ring,
                        message.as_bytes(),
                        FullPolicy::Block(Duration::from_secs(5)),
                        WaitMode::Block,
                    )
                    .expect("a consumer frees a slot in time");
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                let mut buf = [0u8; 16];
                let mut taken = 0;
                while wait::pop(&ring, &mut buf, Duration::from_millis(200), WaitMode::Block)
                    .is_ok()
                {
                    taken += 1;
                }
                taken
            })
        })
        .collect();
    producers
        .into_iter()
        .for_each(|p| p.join().expect("producer"));
    for (i, c) in consumers.into_iter().enumerate() {
        println!("consumer {i} took {} messages", c.join().expect("consumer"));
    }
}
