//! Typed errors: what a server says when a call fails ([`Fault`], [`ErrorCode`]) and what
//! a caller gets ([`RpcError`] for the RPC machinery, [`CallError`] adding the
//! application's own error type).
//!
//! ONC RPC (RFC 5531) splits failures the same way: the RPC layer's `PROG_UNAVAIL`,
//! `PROG_MISMATCH`, `PROC_UNAVAIL`, `GARBAGE_ARGS`, and the procedure's own result.

use std::fmt;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use framing::{Profile, Wire, WireError, from_bytes};

use crate::message::MessageError;

/// The error codes carried in an error message's body (u32, sender's byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No service with that program number here (ONC `PROG_UNAVAIL`).
    UnknownProgram = 1,
    /// The program is here, but not that version; detail lists the versions served
    /// (ONC `PROG_MISMATCH`).
    VersionMismatch = 2,
    /// The program has no such procedure (ONC `PROC_UNAVAIL`).
    UnknownProcedure = 3,
    /// The request could not be decoded: bad header, wrong kind, garbage arguments
    /// (ONC `GARBAGE_ARGS`).
    BadRequest = 4,
    /// A message exceeded the receiver's size limit.
    TooLarge = 5,
    /// The result cannot be written in the caller's representation (a 64-bit value for a
    /// 32-bit caller's `long`).
    Unrepresentable = 6,
    /// The procedure ran and returned the service's own error; detail is that error value.
    Application = 7,
    /// UDP: the server has no room to run or remember the call now and did not run it;
    /// detail is a `u32` of milliseconds to wait before resending (same call id).
    Busy = 8,
}

impl ErrorCode {
    /// The code for a wire number, if it is one.
    pub fn from_u32(code: u32) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            UnknownProgram,
            VersionMismatch,
            UnknownProcedure,
            BadRequest,
            TooLarge,
            Unrepresentable,
            Application,
            Busy,
        ]
        .into_iter()
        .find(|c| *c as u32 == code)
    }
}

/// The body of an error message: a code, a human-readable message, and code-specific
/// detail bytes (the served versions for [`ErrorCode::VersionMismatch`], the encoded
/// application error for [`ErrorCode::Application`], empty otherwise).
///
/// ```text
/// u32 code | u32 length + UTF-8 message | detail (to the end of the message)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Wire error code (kept as a number: a newer server may send codes we do not know).
    pub code: u32,
    /// For people.
    pub message: String,
    /// Code-specific bytes, in the message's representation.
    pub detail: Bytes,
}

impl Fault {
    /// A fault with no detail.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Fault {
        Fault {
            code: code as u32,
            message: message.into(),
            detail: Bytes::new(),
        }
    }

    /// A BUSY answer asking the caller to wait `retry_after` before resending.
    pub fn busy(retry_after: Duration, p: Profile) -> Fault {
        let ms = u32::try_from(retry_after.as_millis()).unwrap_or(u32::MAX);
        let mut fault = Fault::new(ErrorCode::Busy, "busy");
        fault.detail = framing::to_bytes(&ms, p).unwrap_or_default();
        fault
    }

    /// A version mismatch naming the versions served.
    pub fn version_mismatch(program: u32, requested: u32, served: &[u32], p: Profile) -> Fault {
        let mut fault = Fault::new(
            ErrorCode::VersionMismatch,
            format!("program {program:#x} version {requested} is not served; served: {served:?}"),
        );
        fault.detail = framing::to_bytes(&served.to_vec(), p).unwrap_or_default();
        fault
    }

    /// Encodes the fault under `profile`.
    pub fn encode(&self, profile: Profile) -> Bytes {
        let mut out = BytesMut::with_capacity(8 + self.message.len() + self.detail.len());
        let _ = self.code.encode(&mut out, profile);
        if self.message.encode(&mut out, profile).is_err() {
            let _ = String::new().encode(&mut out, profile);
        }
        out.put_slice(&self.detail);
        out.freeze()
    }

    /// Decodes a fault body written under `profile`.
    pub fn decode(mut body: Bytes, profile: Profile) -> Result<Fault, WireError> {
        let code = u32::decode(&mut body, profile)?;
        let message = String::decode(&mut body, profile)?;
        Ok(Fault {
            code,
            message,
            detail: body,
        })
    }

    /// Turns a received fault into the caller's error (application faults aside).
    pub fn into_rpc_error(
        self,
        program: u32,
        version: u32,
        procedure: u32,
        p: Profile,
    ) -> RpcError {
        match ErrorCode::from_u32(self.code) {
            Some(ErrorCode::UnknownProgram) => RpcError::UnknownProgram { program },
            Some(ErrorCode::VersionMismatch) => RpcError::VersionMismatch {
                requested: version,
                served: from_bytes(self.detail, p).unwrap_or_default(),
            },
            Some(ErrorCode::UnknownProcedure) => RpcError::UnknownProcedure { procedure },
            Some(ErrorCode::BadRequest) => RpcError::BadRequest(self.message),
            Some(ErrorCode::TooLarge) => RpcError::TooLarge(self.message),
            Some(ErrorCode::Unrepresentable) => RpcError::Unrepresentable(self.message),
            Some(ErrorCode::Busy) => RpcError::Busy {
                retry_after: Duration::from_millis(u64::from(
                    from_bytes::<u32>(self.detail, p).unwrap_or(0),
                )),
            },
            Some(ErrorCode::Application) | None => RpcError::Server {
                code: self.code,
                message: self.message,
            },
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}: {}", self.code, self.message)
    }
}

/// Why a call failed in the RPC machinery (as opposed to the procedure's own error).
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The server has no such program.
    #[error("the server does not serve program {program:#x}")]
    UnknownProgram {
        /// The program called.
        program: u32,
    },
    /// The server serves the program, but not the version called.
    #[error("version {requested} is not served; the server serves versions {served:?}")]
    VersionMismatch {
        /// The version called.
        requested: u32,
        /// The versions the server does serve.
        served: Vec<u32>,
    },
    /// The program has no such procedure.
    #[error("the server has no procedure {procedure}")]
    UnknownProcedure {
        /// The procedure called.
        procedure: u32,
    },
    /// The server could not decode the request.
    #[error("the server could not decode the request: {0}")]
    BadRequest(String),
    /// A message was larger than a limit (ours or the server's).
    #[error("message too large: {0}")]
    TooLarge(String),
    /// The result does not fit the caller's representation.
    #[error("the result cannot be represented for this caller: {0}")]
    Unrepresentable(String),
    /// The server said BUSY (it did not run the call) until the deadline passed.
    #[error(
        "the server stayed busy until the deadline; it asked to wait {retry_after:?} between tries"
    )]
    Busy {
        /// How long the server asked to wait before resending.
        retry_after: Duration,
    },
    /// The deadline passed before a reply arrived.
    #[error("no reply within {0:?} (deadline passed)")]
    Timeout(Duration),
    /// UDP: the server's host answered with ICMP "port unreachable" (`ECONNREFUSED` on
    /// the connected socket): nothing listens on that port.
    #[error("{peer} refused the call: nothing listens on that UDP port (ICMP port unreachable)")]
    Refused {
        /// The server address called.
        peer: std::net::SocketAddr,
    },
    /// The connection closed (or failed) while the call was pending.
    #[error("connection lost before the reply arrived")]
    ConnectionLost,
    /// An error code this client does not know.
    #[error("server error {code}: {message}")]
    Server {
        /// Wire code.
        code: u32,
        /// Server's text.
        message: String,
    },
    /// The arguments could not be encoded (e.g. a `long` too wide for a 32-bit profile).
    #[error("cannot encode the arguments: {0}")]
    Encode(WireError),
    /// The reply body could not be decoded.
    #[error("cannot decode the reply: {0}")]
    Decode(WireError),
    /// The reply's header is invalid or does not match the call.
    #[error("invalid reply: {0}")]
    Protocol(String),
    /// Connecting or binding failed (the OS error is the `source`).
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<MessageError> for RpcError {
    fn from(err: MessageError) -> Self {
        RpcError::Protocol(err.to_string())
    }
}

/// A failed call: either the RPC machinery failed, or the procedure returned its error.
#[derive(Debug)]
pub enum CallError<E> {
    /// The procedure ran and returned the service's error type.
    App(E),
    /// The call did not complete normally.
    Rpc(RpcError),
}

impl<E> From<RpcError> for CallError<E> {
    fn from(err: RpcError) -> Self {
        CallError::Rpc(err)
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::App(e) => write!(f, "{e}"),
            CallError::Rpc(e) => write!(f, "{e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for CallError<E> {}

impl<E> CallError<E> {
    /// The RPC error, if this is one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            CallError::Rpc(e) => Some(e),
            CallError::App(_) => None,
        }
    }
}

impl RpcError {
    /// Refuses a call the transport cannot carry, before anything is sent: a call of
    /// `len` bytes where `carrier` (a frame, a datagram) holds at most `limit`.
    pub(crate) fn refuse_oversized(
        len: usize,
        limit: usize,
        carrier: &str,
    ) -> Result<(), RpcError> {
        if len > limit {
            return Err(RpcError::TooLarge(format!(
                "call of {len} bytes, {carrier} carries at most {limit}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_round_trip_and_map_to_typed_errors() {
        let fault = Fault::version_mismatch(0x2000_0001, 2, &[1, 3], Profile::BE32);
        let back = Fault::decode(fault.encode(Profile::BE32), Profile::BE32).unwrap();
        assert_eq!(back, fault);
        let err = back.into_rpc_error(0x2000_0001, 2, 1, Profile::BE32);
        assert!(
            matches!(err, RpcError::VersionMismatch { requested: 2, ref served } if served == &[1, 3])
        );
    }

    #[test]
    fn unknown_codes_stay_numbers() {
        assert_eq!(ErrorCode::from_u32(7), Some(ErrorCode::Application));
        assert_eq!(ErrorCode::from_u32(99), None);
        let err = Fault {
            code: 99,
            message: "new".into(),
            detail: Bytes::new(),
        }
        .into_rpc_error(1, 1, 1, Profile::LE64);
        assert!(matches!(err, RpcError::Server { code: 99, .. }));
    }
}
