//! The streamed answer to a [`super::TurnRequest`]: length-prefixed records,
//! for an edge that asked with `Accept:` [`TURN_STREAM_CONTENT_TYPE`].
//!
//! A model writes its answer token by token; the edge passes the text on to
//! the visitor as it comes ([`Record::Delta`]) and still gets the one
//! authoritative [`super::TurnResponse`] at the end ([`Record::Frame`]), or
//! the status and error body the plain response would have had
//! ([`Record::Error`]). Deltas are a preview: the final frame's `answer` is
//! what was stored, and it may differ (a model answer refused at the end
//! falls back to an extractive one).
//!
//! Each record is `kind: u8`, `len: u32` big-endian, then `len` payload
//! bytes:
//!
//! | kind | record | payload |
//! |---|---|---|
//! | 1 | [`Record::Delta`] | UTF-8 text |
//! | 2 | [`Record::Frame`] | a `TurnResponse` frame (MessagePack) |
//! | 3 | [`Record::Error`] | `status: u16` big-endian, then a JSON error body |
//!
//! A stream is any number of deltas followed by exactly one frame or error
//! record. An empty delta is a heartbeat: the answer is still being worked
//! on (a reader times out on silence, not on a long answer). Unknown kinds are an error: a new kind is a new media type.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{Error, Result};

/// The media type of a streamed turn (version 1 of the record format).
pub const TURN_STREAM_CONTENT_TYPE: &str = "application/vnd.kefu.turn-stream.v1";

/// The largest record payload, bytes (a frame is far smaller).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

const DELTA: u8 = 1;
const FRAME: u8 = 2;
const ERROR: u8 = 3;
const HEADER: usize = 5;

/// One record of a streamed turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A piece of the answer as the model wrote it.
    Delta(String),
    /// The final `TurnResponse` frame, encoded.
    Frame(Vec<u8>),
    /// The turn failed: the status and JSON body of the plain response.
    Error {
        /// The HTTP status the plain response would have had.
        status: u16,
        /// Its JSON error body.
        body: Vec<u8>,
    },
}

impl Record {
    /// Whether this record ends the stream.
    pub fn is_last(&self) -> bool {
        !matches!(self, Record::Delta(_))
    }

    /// The record's bytes on the wire.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let (kind, parts): (u8, [&[u8]; 2]) = match self {
            Record::Delta(t) => (DELTA, [t.as_bytes(), &[]]),
            Record::Frame(f) => (FRAME, [f, &[]]),
            Record::Error { status, body } => (ERROR, [&status.to_be_bytes(), body]),
        };
        let len = parts[0].len() + parts[1].len();
        if len > MAX_RECORD_BYTES {
            return Err(Error::TooLarge("turn-stream record"));
        }
        let mut out = Vec::with_capacity(HEADER + len);
        out.push(kind);
        // len <= MAX_RECORD_BYTES < u32::MAX.
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(parts[0]);
        out.extend_from_slice(parts[1]);
        Ok(out)
    }
}

/// Reads records from bytes as they arrive, in pieces of any size.
#[derive(Debug, Default)]
pub struct RecordReader {
    buf: Vec<u8>,
    ended: bool,
}

impl RecordReader {
    /// An empty reader.
    pub fn new() -> RecordReader {
        RecordReader::default()
    }

    /// Adds bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes are waiting that do not make a whole record yet.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next whole record, `Ok(None)` if more bytes are needed. After the
    /// last record, further bytes are an error.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        if self.ended {
            return Err(Error::Decode(
                "bytes after the last turn-stream record".into(),
            ));
        }
        let kind = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_RECORD_BYTES {
            return Err(Error::TooLarge("turn-stream record"));
        }
        if !matches!(kind, DELTA | FRAME | ERROR) {
            return Err(Error::Decode("unknown turn-stream record kind".into()));
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload: Vec<u8> = self.buf.drain(..HEADER + len).skip(HEADER).collect();
        let record = match kind {
            DELTA => Record::Delta(
                String::from_utf8(payload)
                    .map_err(|_| Error::Decode("turn-stream delta is not UTF-8".into()))?,
            ),
            FRAME => Record::Frame(payload),
            _ => {
                if payload.len() < 2 {
                    return Err(Error::Decode("turn-stream error record too short".into()));
                }
                Record::Error {
                    status: u16::from_be_bytes([payload[0], payload[1]]),
                    body: payload[2..].to_vec(),
                }
            }
        };
        self.ended = record.is_last();
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn stream() -> Vec<Record> {
        vec![
            Record::Delta("退款".into()),
            Record::Delta(" in 3-5 days".into()),
            Record::Frame(vec![0x82, 1, 2, 3]),
        ]
    }

    #[test]
    fn records_survive_any_split() {
        let bytes: Vec<u8> = stream().iter().flat_map(|r| r.encode().unwrap()).collect();
        for piece in 1..=bytes.len() {
            let mut r = RecordReader::new();
            let mut got = Vec::new();
            for chunk in bytes.chunks(piece) {
                r.push(chunk);
                while let Some(rec) = r.next_record().unwrap() {
                    got.push(rec);
                }
            }
            assert_eq!(got, stream(), "split every {piece} bytes");
            assert!(!r.has_partial());
        }
    }

    #[test]
    fn error_record_round_trips() {
        let e = Record::Error {
            status: 404,
            body: br#"{"error":{"code":"not_found"}}"#.to_vec(),
        };
        let mut r = RecordReader::new();
        r.push(&e.encode().unwrap());
        assert_eq!(r.next_record().unwrap(), Some(e));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut r = RecordReader::new();
        r.push(&[9, 0, 0, 0, 0]);
        assert!(r.next_record().is_err(), "unknown kind");
        let mut r = RecordReader::new();
        r.push(&[1, 0xff, 0xff, 0xff, 0xff]);
        assert!(r.next_record().is_err(), "oversized length");
        let mut r = RecordReader::new();
        r.push(&[1, 0, 0, 0, 2, 0xff, 0xfe]);
        assert!(r.next_record().is_err(), "delta not UTF-8");
        let mut r = RecordReader::new();
        r.push(&[3, 0, 0, 0, 1, 4]);
        assert!(r.next_record().is_err(), "error record without a status");
        let mut r = RecordReader::new();
        let mut bytes = Record::Frame(vec![1]).encode().unwrap();
        bytes.extend(Record::Delta("late".into()).encode().unwrap());
        r.push(&bytes);
        assert!(r.next_record().unwrap().is_some());
        assert!(r.next_record().is_err(), "a record after the last");
        assert!(
            Record::Delta("x".repeat(MAX_RECORD_BYTES + 1))
                .encode()
                .is_err()
        );
    }
}
