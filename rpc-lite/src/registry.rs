//! The server's table of programs, the step shared by both transports: look up the
//! called program and version, start the procedure, and answer introspection.
//!
//! Transports only move messages; everything a call *means* is decided here, so TCP and
//! UDP answer the same call with the same bytes. No system calls here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use framing::{Profile, Wire, WireError};

use crate::error::{ErrorCode, Fault};
use crate::message::{Header, Kind, Message};
use crate::service::{Dispatch, Outcome, ProcedureInfo, ReplyFuture};

/// Procedure 0 of every program: introspection, answering a [`Description`].
pub const DESCRIBE_PROCEDURE: u32 = 0;
/// The smallest message size limit a server runs with (a lower `--max-frame` is raised
/// to it): the server's own error answers (36-byte header, fault code, a one-line
/// message) must always fit the limit, or a refused call would get no answer at all.
pub const MIN_MESSAGE_LIMIT: usize = 256;

/// What introspection (procedure 0) answers: the service and its procedures.
///
/// On the wire: `String name, u32 program, u32 version, u32 count,` then per procedure
/// `u32 number, String name, String signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Service name.
    pub name: String,
    /// Program number.
    pub program: u32,
    /// Version.
    pub version: u32,
    /// Procedures (introspection itself, procedure 0, is not listed).
    pub procedures: Vec<ProcedureInfo>,
}

impl Wire for Description {
    fn encode(&self, out: &mut bytes::BytesMut, p: Profile) -> Result<(), WireError> {
        let procs: Vec<(u32, String, String)> = self
            .procedures
            .iter()
            .map(|i| (i.number, i.name.clone(), i.signature.clone()))
            .collect();
        (self.name.clone(), self.program, self.version, procs).encode(out, p)
    }

    fn decode(input: &mut Bytes, p: Profile) -> Result<Self, WireError> {
        let (name, program, version, procs) =
            <(String, u32, u32, Vec<(u32, String, String)>)>::decode(input, p)?;
        let procedures = procs
            .into_iter()
            .map(|(number, name, signature)| ProcedureInfo {
                number,
                name,
                signature,
            })
            .collect();
        Ok(Description {
            name,
            program,
            version,
            procedures,
        })
    }
}

/// Counters a server keeps; tests and the demo read them.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Procedures started (introspection included).
    pub executed: AtomicU64,
    /// Calls dropped because their deadline passed before or while they ran.
    pub expired: AtomicU64,
    /// Requests answered with a fault by the RPC layer (bad request, unknown procedure...).
    pub rejected: AtomicU64,
    /// UDP: retransmitted calls answered from the reply cache.
    pub cache_hits: AtomicU64,
    /// UDP: retransmissions that arrived while the call was still running (ignored).
    pub duplicates_running: AtomicU64,
    /// TCP: bytes reserved now for frames still arriving, all connections together.
    pub buffered_frame_bytes: Arc<AtomicU64>,
    /// UDP: new calls answered BUSY and not run (no in-flight slot or no room in the
    /// reply cache); the client resends later.
    pub busy: AtomicU64,
}

impl ServerStats {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// How a call started: answered at once, or running.
pub enum Started {
    /// The answer is known without running anything (a fault, introspection).
    Now(Outcome),
    /// The procedure is running.
    Running(ReplyFuture),
}

/// The programs (and versions) one server serves.
#[derive(Default, Clone)]
pub struct Registry {
    services: BTreeMap<(u32, u32), Arc<dyn Dispatch>>,
    stats: Arc<ServerStats>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a service (replacing one with the same program and version).
    pub fn with(mut self, service: impl Dispatch) -> Registry {
        let key = (service.program(), service.version());
        self.services.insert(key, Arc::new(service));
        self
    }

    /// The server's counters.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// The versions of `program` served here, ascending.
    pub fn versions(&self, program: u32) -> Vec<u32> {
        self.services
            .keys()
            .filter(|(p, _)| *p == program)
            .map(|(_, v)| *v)
            .collect()
    }

    /// Starts a call: checks kind, program, version and procedure, then dispatches.
    pub fn start(&self, call: Message) -> Started {
        let started = self.prepare(call);
        self.count(&started);
        started
    }

    /// As [`Registry::start`], but counts nothing yet: no procedure code has run when
    /// this returns (a `Running` future has not been polled), so a transport may still
    /// refuse the call and drop it. Call [`Registry::count`] if it goes ahead.
    pub fn prepare(&self, call: Message) -> Started {
        let h = call.header;
        self.route(&h, call.body)
    }

    /// Counts a prepared call as rejected or executed.
    pub fn count(&self, started: &Started) {
        match started {
            Started::Now(outcome) => self.count_answered(outcome),
            Started::Running(_) => ServerStats::bump(&self.stats.executed),
        }
    }

    /// Counts a call answered without running a procedure: a fault is a rejection,
    /// introspection an execution.
    pub fn count_answered(&self, outcome: &Outcome) {
        match outcome {
            Err(_) => ServerStats::bump(&self.stats.rejected),
            Ok(_) => ServerStats::bump(&self.stats.executed),
        }
    }

    fn route(&self, h: &Header, body: Bytes) -> Started {
        if h.kind != Kind::Call {
            let msg = format!("expected a call (kind 1), got {:?}", h.kind);
            return Started::Now(Err(Fault::new(ErrorCode::BadRequest, msg)));
        }
        let Some(service) = self.services.get(&(h.program, h.version)) else {
            return Started::Now(Err(self.no_such_version(h)));
        };
        if h.procedure == DESCRIBE_PROCEDURE {
            return Started::Now(describe(service.as_ref(), h.profile));
        }
        match service.dispatch(h.procedure, body, h.profile) {
            Some(running) => Started::Running(running),
            None => Started::Now(Err(Fault::new(
                ErrorCode::UnknownProcedure,
                format!("program {:#x} has no procedure {}", h.program, h.procedure),
            ))),
        }
    }

    fn no_such_version(&self, h: &Header) -> Fault {
        let served = self.versions(h.program);
        if served.is_empty() {
            let msg = format!("program {:#x} is not served here", h.program);
            return Fault::new(ErrorCode::UnknownProgram, msg);
        }
        Fault::version_mismatch(h.program, h.version, &served, h.profile)
    }
}

/// Introspection: the description, in the caller's representation.
fn describe(service: &dyn Dispatch, profile: Profile) -> Outcome {
    let description = Description {
        name: service.name().to_string(),
        program: service.program(),
        version: service.version(),
        procedures: service.procedures(),
    };
    framing::to_bytes(&description, profile)
        .map_err(|e| Fault::new(ErrorCode::Unrepresentable, format!("description: {e}")))
}

/// Builds the reply (or error) message to `call` from its outcome, in the caller's
/// representation. A reply larger than `max_len` becomes a [`ErrorCode::TooLarge`] fault.
pub fn reply_message(call: &Header, outcome: Outcome, max_len: usize) -> Message {
    let message = match outcome {
        Ok(result) => Message::new(call.answer(Kind::Reply), result),
        Err(fault) => Message::new(call.answer(Kind::Error), fault.encode(call.profile)),
    };
    if message.len() <= max_len {
        return message;
    }
    let text = format!(
        "reply of {} bytes exceeds the limit of {max_len}",
        message.len()
    );
    let fault = Fault::new(ErrorCode::TooLarge, text);
    Message::new(call.answer(Kind::Error), fault.encode(call.profile))
}

/// The error sent when a request's header cannot be read: call id 0, since the real
/// one is unknown. The connection is closed after it.
pub fn unreadable_request(profile: Option<Profile>, code: ErrorCode, text: String) -> Message {
    connection_error(profile, Fault::new(code, text))
}

/// A connection-level error: `fault` on call id 0, written in `profile` (big-endian
/// 64-bit if unknown). The connection is closed after it.
pub fn connection_error(profile: Option<Profile>, fault: Fault) -> Message {
    let header = Header {
        profile: profile.unwrap_or(Profile::NETWORK),
        kind: Kind::Error,
        call_id: 0,
        program: 0,
        version: 0,
        procedure: 0,
        deadline_ms: 0,
    };
    let body = fault.encode(header.profile);
    Message::new(header, body)
}

/// Polls a running call once, with a waker that does nothing.
///
/// Most procedures (add, echo, a map lookup) finish without ever waiting, so the
/// transport can answer them on the spot and skip spawning a task; only a procedure
/// that really waits (`sleep`, I/O) comes back `Err` and is spawned. Polling again later
/// with a real waker is allowed: every future re-registers the waker it is given.
pub fn poll_once(mut running: ReplyFuture) -> Result<Outcome, ReplyFuture> {
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    match running.as_mut().poll(&mut cx) {
        Poll::Ready(outcome) => Ok(outcome),
        Poll::Pending => Err(running),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_header() -> Header {
        Header {
            profile: Profile::LE32,
            kind: Kind::Call,
            call_id: 9,
            program: 1,
            version: 1,
            procedure: 1,
            deadline_ms: 100,
        }
    }

    #[test]
    fn a_reply_over_the_limit_becomes_a_too_large_error_for_that_call() {
        let reply = reply_message(&call_header(), Ok(Bytes::from(vec![0u8; 100])), 100);
        assert_eq!((reply.header.kind, reply.header.call_id), (Kind::Error, 9));
        let fault = Fault::decode(reply.body, Profile::LE32).unwrap();
        assert_eq!(fault.code, ErrorCode::TooLarge as u32);
        let fits = reply_message(&call_header(), Ok(Bytes::from(vec![0u8; 64])), 100);
        assert_eq!((fits.header.kind, fits.len()), (Kind::Reply, 100));
    }

    #[test]
    fn an_empty_registry_knows_no_program() {
        let call = Message::new(call_header(), Bytes::new());
        match Registry::new().start(call) {
            Started::Now(Err(fault)) => assert_eq!(fault.code, ErrorCode::UnknownProgram as u32),
            _ => panic!("expected UnknownProgram"),
        }
    }
}
