//! Golden vectors: the exact bytes other languages' clients are checked against.
//! Each snapshot is an annotated hex dump (field names beside their bytes).

use bytes::BytesMut;
use framing::{
    FrameFormat, Profile, Shipment, annotated_dump, hex_dump, label_bytes, to_bytes, to_labelled,
};

#[test]
fn reference_record_under_every_preset() {
    let record = Shipment::reference().unwrap();
    for (name, profile) in Profile::PRESETS {
        let dump = annotated_dump(&record, profile).unwrap();
        let len = to_bytes(&record, profile).unwrap().len();
        insta::assert_snapshot!(
            format!("reference_{name}"),
            format!("{name}: {len} bytes\n{dump}")
        );
    }
}

#[test]
fn labelled_reference_record_from_each_machine() {
    let record = Shipment::reference().unwrap();
    for (name, profile) in Profile::PRESETS {
        let message = to_labelled(&record, profile).unwrap();
        assert_eq!(message[..4], label_bytes(profile));
        insta::assert_snapshot!(format!("labelled_{name}"), hex_dump(&message));
    }
}

#[test]
fn default_frame_equals_java_data_output_stream_bytes() {
    // Java: out.writeInt(bytes.length); out.write(bytes) for "héllo" in UTF-8 (6 bytes).
    let mut wire = BytesMut::new();
    FrameFormat::default()
        .encode("héllo".as_bytes(), &mut wire)
        .unwrap();
    assert_eq!(
        &wire[..],
        &[0x00, 0x00, 0x00, 0x06, 0x68, 0xC3, 0xA9, 0x6C, 0x6C, 0x6F]
    );
}

#[test]
fn reference_record_be32_bytes_written_by_hand() {
    // The be32 layout spelled out, so a reader can check the snapshot against the spec.
    let expected: Vec<u8> = [
        &[0x12, 0x34, 0x56, 0x78][..], // id: u32 0x12345678
        b"depot-7\0",                  // sender: char[8]
        &[0x00, 0x16, 0xE3, 0x60],     // weight_g: long 1500000, 4 bytes
        &[0xC1, 0x94, 0x00, 0x00],     // temperature_c: f32 -18.5
        &[0x01],                       // fragile: true
        &[0x01, 0x02],                 // items: 258
        &[0x00, 0x00, 0x00, 0x0B],     // note: length 11
        b"keep frozen",                //       bytes
    ]
    .concat();
    let record = Shipment::reference().unwrap();
    assert_eq!(
        &to_bytes(&record, Profile::BE32).unwrap()[..],
        &expected[..]
    );
}
