//! age encryption and decryption of whole files and streams (docs/FORMAT.md §3).
//!
//! Big files go through a two-stage pipeline so that reading, hashing and
//! encryption overlap on two cores; memory stays bounded by the channel depth.

use std::io::{self, Read, Write};
use std::sync::mpsc;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::traits::Progress;

/// Chunk size of the pipeline: a multiple of age's 64 KiB chunk.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between the two stages (bounds memory to about 4 MiB).
const DEPTH: usize = 8;
/// Below this size a file is handled on one thread.
const PIPELINE_MIN: u64 = 4 << 20;
/// Largest single write of plaintext out of the decryption pipeline.
const WRITE_PIECE: usize = 64 << 10;

/// Why age decryption failed, in the classes callers tell apart.
#[derive(Debug)]
pub(crate) enum DecryptFailure {
    /// No identity we hold opens the file.
    NoMatchingKey,
    /// The header or payload is corrupt, truncated or tampered with.
    Corrupt,
    /// Reading the age file failed.
    Io(io::Error),
    /// Writing the plaintext out failed.
    Write(io::Error),
}

impl From<age::DecryptError> for DecryptFailure {
    fn from(e: age::DecryptError) -> Self {
        match e {
            age::DecryptError::NoMatchingKeys => Self::NoMatchingKey,
            age::DecryptError::Io(e) => Self::from(e),
            _ => Self::Corrupt,
        }
    }
}

impl From<io::Error> for DecryptFailure {
    fn from(e: io::Error) -> Self {
        // The age stream reports authentication failures of the payload as
        // InvalidData; truncation as UnexpectedEof.
        match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => Self::Corrupt,
            _ => Self::Io(e),
        }
    }
}

fn encryptor(recipients: &[age::x25519::Recipient]) -> age::Encryptor {
    age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .expect("X25519 recipients can always be combined")
}

/// Encrypts a small buffer in memory.
pub(crate) fn encrypt_bytes(plain: &[u8], recipients: &[age::x25519::Recipient]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = encryptor(recipients)
        .wrap_output(&mut out)
        .expect("writing to memory");
    w.write_all(plain).expect("writing to memory");
    w.finish().expect("writing to memory");
    out
}

/// Longest age header accepted. Ours are under 1 KiB; the age crate re-parses
/// a header from its start as it reads, so a huge planted header would cost
/// time quadratic in its size (docs/THREAT_MODEL.md §4).
pub(crate) const HEADER_MAX: usize = 16 << 10;

/// Most X25519 recipient stanzas accepted in an age header. ChartSafe
/// writes two (a collection key and the recovery recipient; keyslots one).
/// Every identity held is tried on every stanza, a scalar multiplication
/// each, so a planted file with hundreds of stanzas would make each read
/// cost hundreds of times more (docs/THREAT_MODEL.md §4, FORMAT.md §3.3).
pub(crate) const MAX_X25519_STANZAS: usize = 4;
/// Most stanzas of any type (unknown types are skipped cheaply by age, but
/// are still bounded).
pub(crate) const MAX_STANZAS: usize = 8;

/// Whether an age file's header ends (with its MAC line) within `prefix`
/// and has at most [`MAX_STANZAS`] stanzas, at most
/// [`MAX_X25519_STANZAS`] of them X25519, and at least one of those
/// (FORMAT.md §3.3).
pub(crate) fn header_acceptable(prefix: &[u8]) -> bool {
    let Some(end) = prefix.windows(5).position(|w| w == b"\n--- ") else {
        return false;
    };
    let (mut all, mut x25519) = (0usize, 0usize);
    for line in prefix[..end].split(|&b| b == b'\n') {
        let Some(rest) = line.strip_prefix(b"-> ") else {
            continue;
        };
        all += 1;
        if rest.starts_with(b"X25519 ") {
            x25519 += 1;
        }
        if all > MAX_STANZAS || x25519 > MAX_X25519_STANZAS {
            return false;
        }
    }
    x25519 > 0
}

/// Decrypts a small age file held in memory. The plaintext is zeroized on drop.
pub(crate) fn decrypt_bytes(
    bytes: &[u8],
    identities: &[&dyn age::Identity],
) -> Result<Zeroizing<Vec<u8>>, DecryptFailure> {
    if !header_acceptable(&bytes[..bytes.len().min(HEADER_MAX)]) {
        return Err(DecryptFailure::Corrupt);
    }
    let decryptor = age::Decryptor::new_buffered(bytes)?;
    let mut reader = decryptor.decrypt(identities.iter().copied())?;
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    reader.read_to_end(&mut out)?;
    Ok(out)
}

/// Size and SHA-256 of a plaintext stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digested {
    pub size: u64,
    pub sha256: [u8; 32],
}

/// Where a streaming step failed.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// Reading the plaintext source failed.
    Read(io::Error),
    /// Writing the ciphertext failed.
    Write(io::Error),
}

/// Encrypts `input` (of about `size_hint` bytes) into `output`, returning the
/// plaintext's size and SHA-256.
///
/// Big inputs run as three stages on their own threads: read and hash,
/// encrypt, write; bounded channels keep memory to a few MiB.
pub(crate) fn encrypt_stream<R: Read + Send, W: Write + Send>(
    input: R,
    output: W,
    size_hint: u64,
    recipients: &[age::x25519::Recipient],
    progress: &dyn Progress,
) -> Result<Digested, StreamError> {
    let (size, sha256) = encrypt_inner(input, output, size_hint, recipients, progress, true)?;
    Ok(Digested {
        size,
        sha256: sha256.expect("hashed"),
    })
}

/// Encrypts `input` into `output` as [`encrypt_stream`] does, without
/// hashing the plaintext (re-encryption keeps the recorded hash, which the
/// next read checks): returns the plaintext's size.
pub(crate) fn reencrypt_stream<R: Read + Send, W: Write + Send>(
    input: R,
    output: W,
    size_hint: u64,
    recipients: &[age::x25519::Recipient],
    progress: &dyn Progress,
) -> Result<u64, StreamError> {
    encrypt_inner(input, output, size_hint, recipients, progress, false).map(|(size, _)| size)
}

fn encrypt_inner<R: Read + Send, W: Write + Send>(
    mut input: R,
    mut output: W,
    size_hint: u64,
    recipients: &[age::x25519::Recipient],
    progress: &dyn Progress,
    hash: bool,
) -> Result<(u64, Option<[u8; 32]>), StreamError> {
    if size_hint < PIPELINE_MIN {
        let mut writer = encryptor(recipients)
            .wrap_output(output)
            .map_err(StreamError::Write)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = Zeroizing::new(vec![0u8; 64 << 10]);
        loop {
            let n = read_full(&mut input, &mut buf).map_err(StreamError::Read)?;
            if n == 0 {
                break;
            }
            if hash {
                hasher.update(&buf[..n]);
            }
            writer.write_all(&buf[..n]).map_err(StreamError::Write)?;
            size += n as u64;
            progress.advance(n as u64);
        }
        writer
            .finish()
            .map_err(StreamError::Write)?
            .flush()
            .map_err(StreamError::Write)?;
        return Ok((size, hash.then(|| hasher.finalize().into())));
    }
    std::thread::scope(|scope| {
        let (plain_tx, plain_rx) = mpsc::sync_channel::<(Buf, usize)>(DEPTH);
        let (plain_free, plain_pool) = pool();
        let (cipher_tx, cipher_rx) = mpsc::sync_channel::<(Buf, usize)>(DEPTH);
        let (cipher_free, cipher_pool) = pool();
        let reader = scope.spawn(move || -> io::Result<(u64, Option<[u8; 32]>)> {
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Ok(mut buf) = plain_pool.recv() {
                let n = read_full(&mut input, &mut buf)?;
                if n == 0 {
                    break;
                }
                if hash {
                    hasher.update(&buf[..n]);
                }
                size += n as u64;
                if plain_tx.send((buf, n)).is_err() {
                    break; // a later stage stopped; its error is reported
                }
            }
            Ok((size, hash.then(|| hasher.finalize().into())))
        });
        let writer = scope.spawn(move || -> io::Result<()> {
            for (buf, n) in cipher_rx {
                output.write_all(&buf[..n])?;
                let _ = cipher_free.send(buf);
            }
            output.flush()
        });
        let encrypted = (|| -> io::Result<()> {
            let sink = ChannelWriter {
                buf: None,
                len: 0,
                tx: cipher_tx,
                pool: cipher_pool,
            };
            let mut stream = encryptor(recipients).wrap_output(sink)?;
            for (chunk, n) in plain_rx {
                stream.write_all(&chunk[..n])?;
                progress.advance(n as u64);
                let _ = plain_free.send(chunk);
            }
            stream.finish()?.flush()
        })();
        // The channels are closed by now (both ends of the encryptor dropped).
        let written = writer.join().expect("writer thread does not panic");
        let digested = reader.join().expect("reader thread does not panic");
        written.map_err(StreamError::Write)?;
        encrypted.map_err(StreamError::Write)?;
        digested.map_err(StreamError::Read)
    })
}

/// A pipeline buffer; zeroized when finally dropped.
type Buf = Zeroizing<Vec<u8>>;

/// Buffers that travel between pipeline stages and come back for reuse, so
/// no stage allocates (and page-faults in) a fresh MiB per chunk.
fn pool() -> (mpsc::SyncSender<Buf>, mpsc::Receiver<Buf>) {
    let (tx, rx) = mpsc::sync_channel(DEPTH + 2);
    for _ in 0..DEPTH + 2 {
        tx.send(Zeroizing::new(vec![0u8; CHUNK]))
            .expect("room for every buffer");
    }
    (tx, rx)
}

/// A writer that fills pooled buffers and sends them to another thread.
struct ChannelWriter {
    buf: Option<Buf>,
    len: usize,
    tx: mpsc::SyncSender<(Buf, usize)>,
    pool: mpsc::Receiver<Buf>,
}

impl ChannelWriter {
    fn stopped() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the writer stopped")
    }

    fn send(&mut self) -> io::Result<()> {
        if let Some(buf) = self.buf.take() {
            if self.len > 0 {
                self.tx.send((buf, self.len)).map_err(|_| Self::stopped())?;
            }
            self.len = 0;
        }
        Ok(())
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.is_none() {
            self.buf = Some(self.pool.recv().map_err(|_| Self::stopped())?);
        }
        let buf = self.buf.as_mut().expect("just filled");
        let n = data.len().min(buf.len() - self.len);
        buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == buf.len() {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Decrypts `input` into `output`, returning the plaintext's size and SHA-256.
///
/// The caller must treat `output` as untrusted until this returns `Ok`: age
/// streams plaintext out before it reaches a bad chunk (docs/FORMAT.md §3.3).
pub(crate) fn decrypt_stream<R: Read, W: Write + Send>(
    input: R,
    mut output: W,
    size_hint: u64,
    identities: &[&dyn age::Identity],
    progress: &dyn Progress,
) -> Result<Digested, DecryptFailure> {
    let mut input = input;
    let mut prefix = Vec::with_capacity(HEADER_MAX);
    (&mut input)
        .take(HEADER_MAX as u64)
        .read_to_end(&mut prefix)?;
    if !header_acceptable(&prefix) {
        return Err(DecryptFailure::Corrupt);
    }
    let input = io::Cursor::new(prefix).chain(input);
    let decryptor = age::Decryptor::new_buffered(io::BufReader::with_capacity(64 << 10, input))?;
    let mut reader = decryptor.decrypt(identities.iter().copied())?;
    if size_hint < PIPELINE_MIN {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = Zeroizing::new(vec![0u8; 64 << 10]);
        loop {
            let n = read_full(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            output.write_all(&buf[..n]).map_err(DecryptFailure::Write)?;
            size += n as u64;
            progress.advance(n as u64);
        }
        output.flush().map_err(DecryptFailure::Write)?;
        return Ok(Digested {
            size,
            sha256: hasher.finalize().into(),
        });
    }
    // Stage 1 (here): read and decrypt. Stage 2 (spawned): hash and write.
    // This splits the work about evenly (per GiB here: read and decrypt
    // about 1.4 s of CPU, hash and write about 1.2 s).
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(Buf, usize)>(DEPTH);
        let (free, pool) = pool();
        let writer = scope.spawn(move || -> io::Result<Digested> {
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            for (chunk, n) in rx {
                hasher.update(&chunk[..n]);
                // In 64 KiB writes, as stock age does: the kernel sizes its
                // page-cache folios by the write, and on this kind of VM
                // large ones are sometimes several times slower to fill.
                for piece in chunk[..n].chunks(WRITE_PIECE) {
                    output.write_all(piece)?;
                }
                size += n as u64;
                let _ = free.send(chunk);
            }
            output.flush()?;
            Ok(Digested {
                size,
                sha256: hasher.finalize().into(),
            })
        });
        let mut read_result = Ok(());
        while let Ok(mut buf) = pool.recv() {
            match read_full(&mut reader, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    progress.advance(n as u64);
                    if tx.send((buf, n)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    read_result = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let written = writer.join().expect("writer thread does not panic");
        let written = written.map_err(DecryptFailure::Write)?;
        read_result.map_err(DecryptFailure::from)?;
        Ok(written)
    })
}

/// Reads until `buf` is full or the input ends.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AgeIdentity;
    use crate::traits::NoProgress;
    use proptest::prelude::*;

    fn round_trip(data: &[u8]) {
        let id = AgeIdentity::generate();
        let mut ct = Vec::new();
        let d = encrypt_stream(
            data,
            &mut ct,
            data.len() as u64,
            &[id.recipient()],
            &NoProgress,
        )
        .unwrap();
        assert_eq!(d.size, data.len() as u64);
        let mut pt = Vec::new();
        let d2 = decrypt_stream(
            &ct[..],
            &mut pt,
            data.len() as u64,
            &[id.as_age()],
            &NoProgress,
        )
        .unwrap();
        assert_eq!(pt, data);
        assert_eq!(d, d2);
    }

    #[test]
    fn pipelined_round_trip() {
        let data: Vec<u8> = (0..(9u32 << 20) + 17)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        round_trip(&data);
    }

    #[test]
    fn truncated_stream_is_corrupt() {
        let id = AgeIdentity::generate();
        let data = vec![7u8; 300_000];
        let mut ct = Vec::new();
        encrypt_stream(&data[..], &mut ct, 0, &[id.recipient()], &NoProgress).unwrap();
        ct.truncate(ct.len() - 100_000);
        let err = decrypt_stream(&ct[..], Vec::new(), 0, &[id.as_age()], &NoProgress).unwrap_err();
        assert!(matches!(err, DecryptFailure::Corrupt), "{err:?}");
    }

    #[test]
    fn a_planted_endless_header_is_refused_quickly() {
        let id = AgeIdentity::generate();
        let mut planted = b"age-encryption.org/v1\n".to_vec();
        planted.extend(b"-> a\n\n".repeat(1 << 20));
        let start = std::time::Instant::now();
        assert!(matches!(
            decrypt_bytes(&planted, &[id.as_age()]),
            Err(DecryptFailure::Corrupt)
        ));
        let err =
            decrypt_stream(&planted[..], Vec::new(), 0, &[id.as_age()], &NoProgress).unwrap_err();
        assert!(matches!(err, DecryptFailure::Corrupt));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_planted_header_with_many_stanzas_is_refused() {
        // Attack 5 of issue 12: hundreds of stanzas made every identity
        // try each one. Our own files have two.
        let id = AgeIdentity::generate();
        let recipients: Vec<_> = (0..MAX_X25519_STANZAS + 1)
            .map(|_| AgeIdentity::generate().recipient())
            .chain([id.recipient()])
            .collect();
        let planted = encrypt_bytes(b"x", &recipients);
        assert!(matches!(
            decrypt_bytes(&planted, &[id.as_age()]),
            Err(DecryptFailure::Corrupt)
        ));
        let err =
            decrypt_stream(&planted[..], Vec::new(), 0, &[id.as_age()], &NoProgress).unwrap_err();
        assert!(matches!(err, DecryptFailure::Corrupt));
        let ours = encrypt_bytes(b"x", &[id.recipient(), AgeIdentity::generate().recipient()]);
        assert_eq!(&decrypt_bytes(&ours, &[id.as_age()]).unwrap()[..], b"x");
    }

    #[test]
    fn wrong_identity_is_no_matching_key() {
        let id = AgeIdentity::generate();
        let ct = encrypt_bytes(b"x", &[id.recipient()]);
        let other = AgeIdentity::generate();
        assert!(matches!(
            decrypt_bytes(&ct, &[other.as_age()]),
            Err(DecryptFailure::NoMatchingKey)
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..200_000)) {
            round_trip(&data);
        }
    }
}
