//! Helpers shared by the integration tests: demo servers on 127.0.0.1:0, raw frames.
#![allow(dead_code)]

/// The demo service, shared with the binary (it is not part of the library).
#[path = "../../src/cli/demo_service.rs"]
pub mod demo_service;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use demo_service::{DEMO_PROGRAM, DemoService, demo};
use framing::{FrameFormat, Profile, Wire, to_bytes};
use rpc_lite::registry::ServerStats;
use rpc_lite::tcp_transport::{self, TcpServerConfig};
use rpc_lite::udp_transport::{self, UdpServerConfig};
use rpc_lite::{Channel, Header, Kind, Message, Registry, ServerHandle, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running demo server and handles on its state.
pub struct Demo {
    pub server: ServerHandle,
    pub service: Arc<DemoService>,
    pub stats: Arc<ServerStats>,
}

impl Demo {
    pub fn addr(&self) -> String {
        self.server.addr().to_string()
    }

    pub async fn client(&self, transport: Transport) -> demo::Client {
        demo::Client::new(Channel::connect(&self.addr(), transport).await.unwrap())
    }
}

fn registry(service: &Arc<DemoService>) -> Registry {
    Registry::new().with(demo::Server::from_arc(service.clone()))
}

pub async fn tcp_demo(config: TcpServerConfig) -> Demo {
    let service = Arc::new(DemoService::default());
    let registry = registry(&service);
    let stats = registry.stats().clone();
    let server = tcp_transport::spawn("127.0.0.1:0".parse().unwrap(), registry, config)
        .await
        .unwrap();
    Demo {
        server,
        service,
        stats,
    }
}

pub async fn udp_demo(config: UdpServerConfig) -> Demo {
    let service = Arc::new(DemoService::default());
    let registry = registry(&service);
    let stats = registry.stats().clone();
    let server = udp_transport::spawn("127.0.0.1:0".parse().unwrap(), registry, config)
        .await
        .unwrap();
    Demo {
        server,
        service,
        stats,
    }
}

/// A call message to the demo program, as raw bytes (no frame).
pub fn raw_call<A: Wire>(profile: Profile, call_id: u64, procedure: u32, args: &A) -> Bytes {
    let header = Header {
        profile,
        kind: Kind::Call,
        call_id,
        program: DEMO_PROGRAM,
        version: 1,
        procedure,
        deadline_ms: 10_000,
    };
    Message::new(header, to_bytes(args, profile).unwrap()).to_bytes()
}

/// `message` in a TCP frame.
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    FrameFormat::default().encode(message, &mut out).unwrap();
    out.to_vec()
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame(stream: &mut TcpStream) -> Option<Message> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.unwrap();
    Some(Message::decode(body.into()).unwrap())
}

pub async fn send_raw(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap();
}

/// The fault code of an error message.
pub fn fault_code(message: &Message) -> u32 {
    assert_eq!(
        message.header.kind,
        Kind::Error,
        "expected an error: {message:?}"
    );
    rpc_lite::Fault::decode(message.body.clone(), message.header.profile)
        .unwrap()
        .code
}
