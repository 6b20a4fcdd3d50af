//! Log output with personal data masked.
//!
//! kefu never logs conversation content on purpose: handlers log route
//! templates, statuses and timings, and error messages never quote input. This
//! is the second line of defence for what slips through anyway (an error from
//! a dependency that quotes a value, a future log line written carelessly):
//! every formatted line passes through [`kefu_core::pii::redact`] before it
//! reaches the sink, so resident ID numbers, bank cards, mobile numbers and
//! e-mail addresses come out masked. The binary turns ANSI colours off: an
//! escape sequence glued to a number would hide it from the mask.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// A [`MakeWriter`] that masks PII in each event before writing it to `W`.
#[derive(Debug, Clone)]
pub struct Redacting<M> {
    inner: M,
}

impl<M> Redacting<M> {
    /// Wraps a writer factory (e.g. `std::io::stderr`).
    pub fn new(inner: M) -> Self {
        Redacting { inner }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// Buffers one event, masks it, and writes it out when dropped or flushed.
/// `tracing-subscriber` makes one writer per event, so an event is never
/// split across two scans.
#[derive(Debug)]
pub struct RedactingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    fn drain(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let masked = kefu_core::pii::redact(&text);
        self.inner.write_all(masked.text.as_bytes())?;
        self.buf.clear();
        self.inner.flush()
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, d: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(d);
            Ok(d.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn pii_in_a_log_event_is_masked_before_it_reaches_the_sink() {
        let sink = Sink::default();
        let s2 = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(Redacting::new(move || s2.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                detail = "身份证 11010519491231002X 手机 13800138000",
                "upstream said: card 6222 0212 3456 7890 128, mail zhang.san@example.com"
            );
        });
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("upstream said"), "{out}");
        for secret in [
            "11010519491231002X",
            "13800138000",
            "6222 0212 3456 7890 128",
            "zhang.san@example.com",
        ] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert!(out.contains("138****8000"), "{out}");
    }
}
