//! The stub's generic half: marshal the arguments, send a call, wait for the reply,
//! unmarshal the result. Generated clients are thin wrappers around a [`Stub`].

use std::time::Duration;

use bytes::Bytes;
use framing::{Profile, Wire, from_bytes, to_bytes};

use crate::channel::Channel;
use crate::error::{CallError, ErrorCode, Fault, RpcError};
use crate::message::{Header, Kind, Message};
use crate::registry::{DESCRIBE_PROCEDURE, Description};

/// Default time a call waits for its reply (`--timeout-ms`); sent along as the deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls procedures of one program version over a [`Channel`].
#[derive(Clone, Debug)]
pub struct Stub {
    channel: Channel,
    program: u32,
    version: u32,
    profile: Profile,
    timeout: Duration,
}

impl Stub {
    /// A stub for `program` `version`, writing in this machine's native representation.
    pub fn new(channel: Channel, program: u32, version: u32) -> Stub {
        Stub {
            channel,
            program,
            version,
            profile: Profile::native(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets how long each call waits; the server receives it as the call's deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Stub {
        self.timeout = timeout;
        self
    }

    /// Writes calls in `profile` (e.g. to act as a big-endian 32-bit machine).
    pub fn with_profile(mut self, profile: Profile) -> Stub {
        self.profile = profile;
        self
    }

    /// Calls another version of the program (to see a version mismatch).
    pub fn with_version(mut self, version: u32) -> Stub {
        self.version = version;
        self
    }

    /// The channel underneath.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Calls `procedure` with the argument tuple `args`; decodes the result as `R` or the
    /// application error as `E`.
    pub async fn call<A: Wire, R: Wire, E: Wire>(
        &self,
        procedure: u32,
        args: &A,
    ) -> Result<R, CallError<E>> {
        let body = to_bytes(args, self.profile).map_err(RpcError::Encode)?;
        let reply = self.call_raw(procedure, body).await?;
        let p = reply.header.profile;
        match reply.header.kind {
            Kind::Reply => Ok(from_bytes(reply.body, p).map_err(RpcError::Decode)?),
            _ => Err(self.fault(procedure, reply)),
        }
    }

    /// Turns an error reply into the caller's error: the application's own, or the RPC
    /// layer's.
    fn fault<E: Wire>(&self, procedure: u32, reply: Message) -> CallError<E> {
        let p = reply.header.profile;
        let fault = match Fault::decode(reply.body, p) {
            Ok(fault) => fault,
            Err(e) => return CallError::Rpc(RpcError::Decode(e)),
        };
        if fault.code == ErrorCode::Application as u32 {
            return match from_bytes(fault.detail, p) {
                Ok(app) => CallError::App(app),
                Err(e) => CallError::Rpc(RpcError::Decode(e)),
            };
        }
        CallError::Rpc(fault.into_rpc_error(self.program, self.version, procedure, p))
    }

    /// Sends one call with an already encoded body and returns the reply or error
    /// message as received.
    pub async fn call_raw(&self, procedure: u32, body: Bytes) -> Result<Message, RpcError> {
        let header = Header {
            profile: self.profile,
            kind: Kind::Call,
            call_id: 0, // the channel assigns it
            program: self.program,
            version: self.version,
            procedure,
            deadline_ms: 0, // the channel writes the remaining time
        };
        let reply = self.channel.call(header, body, self.timeout).await?;
        check_reply(&header, &reply)?;
        Ok(reply)
    }

    /// Asks for the program's description (procedure 0, introspection).
    pub async fn describe(&self) -> Result<Description, RpcError> {
        let body = to_bytes(&(), self.profile).map_err(RpcError::Encode)?;
        let reply = self.call_raw(DESCRIBE_PROCEDURE, body).await?;
        let p = reply.header.profile;
        if reply.header.kind == Kind::Reply {
            return from_bytes(reply.body, p).map_err(RpcError::Decode);
        }
        let fault = Fault::decode(reply.body, p).map_err(RpcError::Decode)?;
        Err(fault.into_rpc_error(self.program, self.version, DESCRIBE_PROCEDURE, p))
    }
}

/// A reply must be a reply (or error) and must answer the call it was matched to.
fn check_reply(call: &Header, reply: &Message) -> Result<(), RpcError> {
    let h = &reply.header;
    if h.kind == Kind::Call {
        return Err(RpcError::Protocol(
            "got a call where a reply was due".into(),
        ));
    }
    if h.kind == Kind::Reply
        && (h.program, h.version, h.procedure) != (call.program, call.version, call.procedure)
    {
        return Err(RpcError::Protocol(format!(
            "reply names program {:#x} v{} procedure {}, the call was {:#x} v{} procedure {}",
            h.program, h.version, h.procedure, call.program, call.version, call.procedure
        )));
    }
    Ok(())
}
