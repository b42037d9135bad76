//! What the loom models of the ring, the batch calls and the event counts share: a small
//! ring on the heap, its atomics loom's (`RUSTFLAGS="--cfg ipc_loom" cargo test -p ipc
//! --lib loom`).

use loom::sync::Arc;

use crate::shm::{Geometry, HeapRegion, Ring};

/// A ring of `capacity` slots of 4 bytes, shared between the model's threads.
pub(crate) fn ring(capacity: u32) -> Arc<Ring<HeapRegion>> {
    let geometry = Geometry::new(capacity, 4).unwrap();
    Arc::new(Ring::create(HeapRegion::for_geometry(geometry), geometry).unwrap())
}
