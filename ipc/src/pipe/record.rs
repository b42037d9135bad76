//! The record several writers put on one pipe to show `PIPE_BUF` atomicity.
//!
//! Each record is one `write(2)` of `size` bytes: the writer's id and a sequence number, then the
//! writer's id byte repeated. A reader cuts the stream into `size`-byte pieces; a piece that
//! mixes two writers' bytes is *torn*. Up to [`PIPE_BUF`](super::PIPE_BUF) bytes, POSIX promises
//! no record is ever torn; above it the kernel may split a write and interleave another.
//!
//! ```text
//!  0        4        8                                   size
//! +--------+--------+-----------------------------------+
//! | id u32 | seq u32| filler: (id & 0xff) repeated      |   big-endian integers
//! +--------+--------+-----------------------------------+
//! ```

use std::collections::HashMap;

/// The smallest record: id and sequence number.
pub const MIN_RECORD: usize = 8;

/// Encodes record `seq` of writer `id`, `size` bytes long (at least [`MIN_RECORD`]).
pub fn encode(id: u32, seq: u32, size: usize) -> Vec<u8> {
    let mut record = vec![id as u8; size.max(MIN_RECORD)];
    record[0..4].copy_from_slice(&id.to_be_bytes());
    record[4..8].copy_from_slice(&seq.to_be_bytes());
    record
}

/// What a reader found in the stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Records that were whole and in order for their writer.
    pub whole: u64,
    /// Pieces mixing bytes of different records (or a bad header).
    pub torn: u64,
    /// Bytes left over at the end that do not make a whole piece.
    pub trailing: usize,
}

/// Cuts `stream` into `size`-byte pieces and checks each one.
pub fn check_stream(stream: &[u8], size: usize) -> Tally {
    let size = size.max(MIN_RECORD);
    let mut tally = Tally::default();
    let mut next_seq: HashMap<u32, u32> = HashMap::new();
    let mut pieces = stream.chunks_exact(size);
    for piece in &mut pieces {
        if is_whole(piece, &mut next_seq) {
            tally.whole += 1;
        } else {
            tally.torn += 1;
        }
    }
    tally.trailing = pieces.remainder().len();
    tally
}

/// A piece is whole when its filler matches its id and its seq is the writer's next one.
fn is_whole(piece: &[u8], next_seq: &mut HashMap<u32, u32>) -> bool {
    let id = u32::from_be_bytes([piece[0], piece[1], piece[2], piece[3]]);
    let seq = u32::from_be_bytes([piece[4], piece[5], piece[6], piece[7]]);
    let filler_ok = piece[MIN_RECORD..].iter().all(|&b| b == id as u8);
    let expected = next_seq.entry(id).or_insert(0);
    let in_order = seq == *expected;
    if filler_ok && in_order {
        *expected += 1;
    }
    filler_ok && in_order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_records_in_any_interleaving_of_writers_pass() {
        let mut stream = Vec::new();
        for seq in 0..3 {
            stream.extend(encode(1, seq, 64));
            stream.extend(encode(2, seq, 64));
        }
        let tally = check_stream(&stream, 64);
        assert_eq!(
            tally,
            Tally {
                whole: 6,
                torn: 0,
                trailing: 0
            }
        );
    }

    #[test]
    fn a_record_split_by_another_writer_is_torn() {
        let a = encode(1, 0, 64);
        let b = encode(2, 0, 64);
        let mut stream = a[..32].to_vec();
        stream.extend(&b);
        stream.extend(&a[32..]);
        let tally = check_stream(&stream, 64);
        assert_eq!(tally.whole, 0);
        assert_eq!(tally.torn, 2);
    }

    #[test]
    fn a_missing_record_breaks_the_sequence() {
        let mut stream = encode(1, 0, 16);
        stream.extend(encode(1, 2, 16));
        assert_eq!(check_stream(&stream, 16).torn, 1);
    }
}
