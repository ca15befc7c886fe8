//! The ingest spool: entries ingest accepted while Redis could not take them, kept in segment
//! files on this instance's disk and moved to the stream, oldest first, once Redis answers again.
//!
//! Durability: an append is written and `fdatasync`ed before ingest answers (appends that arrive
//! together share one sync), so an answered event survives a crash of the process and of the
//! machine. While the spool holds anything, new entries go to it too, so the stream receives them
//! in the order they were accepted. The replay position is saved (written, synced, renamed) after
//! each batch has reached the stream: a crash in between sends that batch again, and the worker
//! stores it once (errors are keyed by the id ingest gave them). A torn record at the end of a
//! segment (a crash mid-write, so never answered) is cut off when the spool is opened.
//!
//! Layout: the configured directory holds slots `slot-0`, `slot-1`, …; a process takes the first
//! slot no other process holds (a file lock), so processes can share one directory (or volume),
//! and a slot a stopped process left is replayed by the next one that takes it. A slot holds
//! `NNNNNNNNNNNNNNNNNNNN.seg` segments of records `[length u32 LE][CRC-32C u32 LE][entry JSON]`
//! and `cursor` (`segment offset`: the next record to replay). All file work happens on one
//! thread of the spool's own.

use super::error::ServerError;
use super::queue::Queue;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot, watch};

/// A segment takes no more appends past this size, so replayed data is given back in steps.
const SEGMENT_BYTES: u64 = 16 << 20;
/// Length and checksum in front of each record.
const HEADER: u64 = 8;
/// Largest record accepted when reading (a damaged length must not allocate gigabytes).
const MAX_RECORD: u32 = 256 << 20;
/// What one replay step moves to the stream at most.
const REPLAY_ENTRIES: usize = 1000;
const REPLAY_BYTES: u64 = 4 << 20;
/// The longest pause between two replay attempts while Redis does not answer.
const REPLAY_MAX_BACKOFF: Duration = Duration::from_secs(1);
const CHECKSUM: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
/// Processes that can share one spool directory.
const SLOTS: usize = 64;

/// Handle on the spool: cheap to clone; the files are closed when the last handle goes.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    /// The spool's thread, joined when the last handle goes (so the directory's lock is free
    /// again once `Spool` is dropped).
    thread: Option<std::thread::JoinHandle<()>>,
    held: Arc<Held>,
    max_bytes: u64,
    /// Wakes the replayer after an append.
    appended: Notify,
}

/// What the spool holds, shared by the handles and the spool's thread (which gives back what a
/// failed append reserved, and what a saved replay position leaves behind).
#[derive(Default)]
struct Held {
    /// Bytes (records with their headers) appended or being appended and not yet replayed.
    bytes: AtomicU64,
    /// Entries likewise: while it is above zero, new entries go to the spool.
    entries: AtomicU64,
}

impl Held {
    fn release(&self, entries: u64, bytes: u64) {
        self.entries.fetch_sub(entries, Ordering::SeqCst);
        self.bytes.fetch_sub(bytes, Ordering::SeqCst);
    }
}

/// A place in the spool: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    segment: u64,
    offset: u64,
}

/// Entries read for replay, and where the replay stands once they are on the stream.
pub struct Batch {
    pub entries: Vec<Vec<u8>>,
    end: Position,
    bytes: u64,
}

/// What the spool holds, for `/health`.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct SpoolLoad {
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
}

enum Command {
    Append(Vec<u8>, oneshot::Sender<io::Result<()>>),
    Read(oneshot::Sender<io::Result<Batch>>),
    Commit { to: Position, entries: u64, bytes: u64, reply: oneshot::Sender<io::Result<()>> },
}

impl Spool {
    /// Opens (or creates) a spool in the first free slot of `base`, holding at most `max_bytes`
    /// of entries.
    pub fn open(base: &Path, max_bytes: u64) -> Result<Self, ServerError> {
        for slot in 0..SLOTS {
            let dir = base.join(format!("slot-{slot}"));
            match Files::open(&dir) {
                Ok(files) => return Self::start(&dir, files, max_bytes),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(spool_error(&dir, e)),
            }
        }
        Err(spool_error(base, io::Error::other(format!("all {SLOTS} slots are held by other processes"))))
    }

    fn start(dir: &Path, (mut files, entries, bytes): (Files, u64, u64), max_bytes: u64) -> Result<Self, ServerError> {
        if entries > 0 {
            tracing::warn!(entries, bytes, dir = %dir.display(), "the spool holds entries from an earlier run; replaying them once Redis answers");
        }
        let held = Arc::new(Held { bytes: AtomicU64::new(bytes), entries: AtomicU64::new(entries) });
        files.held = held.clone();
        let (commands, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("faultline-spool".into())
            .spawn(move || files.serve(rx))
            .map_err(|e| spool_error(dir, e))?;
        Ok(Self { inner: Arc::new(Inner { commands, thread: Some(thread), held, max_bytes, appended: Notify::new() }) })
    }

    /// True while nothing waits in the spool (so ingest may append to the stream directly).
    pub fn is_empty(&self) -> bool {
        self.inner.held.entries.load(Ordering::SeqCst) == 0
    }

    pub fn load(&self) -> SpoolLoad {
        SpoolLoad {
            entries: self.inner.held.entries.load(Ordering::SeqCst),
            bytes: self.inner.held.bytes.load(Ordering::SeqCst),
            max_bytes: self.inner.max_bytes,
        }
    }

    /// Keeps one encoded entry; returns once it is on disk. `SpoolFull` when it would not fit.
    pub async fn append(&self, entry: Vec<u8>) -> Result<(), ServerError> {
        let size = entry.len() as u64 + HEADER;
        let inner = &self.inner;
        if entry.is_empty() {
            return Err(ServerError::Spool(io::Error::new(io::ErrorKind::InvalidInput, "an empty entry")));
        }
        let before = inner.held.bytes.fetch_add(size, Ordering::SeqCst);
        if before + size > inner.max_bytes {
            inner.held.bytes.fetch_sub(size, Ordering::SeqCst);
            return Err(ServerError::SpoolFull);
        }
        inner.held.entries.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        // From here the spool's thread owns the reservation: it gives it back if the write fails,
        // even when this future is dropped before the answer.
        if inner.commands.send(Command::Append(entry, tx)).is_err() {
            inner.held.release(1, size);
            return Err(ServerError::Spool(io::Error::other("the spool thread stopped")));
        }
        match rx.await {
            Ok(Ok(())) => {
                inner.appended.notify_one();
                Ok(())
            }
            Ok(Err(e)) => Err(ServerError::Spool(e)),
            Err(_) => Err(ServerError::Spool(io::Error::other("the spool thread stopped"))),
        }
    }

    /// The oldest entries not yet replayed (empty when none are on disk yet).
    pub async fn read(&self) -> Result<Batch, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.call(Command::Read(tx), rx).await
    }

    /// Marks `batch` as replayed: its space is given back and it is never read again.
    pub async fn commit(&self, batch: Batch) -> Result<(), ServerError> {
        let (tx, rx) = oneshot::channel();
        let (entries, bytes) = (batch.entries.len() as u64, batch.bytes);
        self.call(Command::Commit { to: batch.end, entries, bytes, reply: tx }, rx).await
    }

    async fn call<T>(&self, command: Command, rx: oneshot::Receiver<io::Result<T>>) -> Result<T, ServerError> {
        self.inner
            .commands
            .send(command)
            .map_err(|_| ServerError::Spool(io::Error::other("the spool thread stopped")))?;
        rx.await.unwrap_or_else(|_| Err(io::Error::other("the spool thread stopped"))).map_err(ServerError::Spool)
    }

    /// Moves what the spool holds to `queue`, oldest first, whenever Redis answers, until
    /// `shutdown` turns true (what is left stays on disk for the next start).
    pub async fn replay(self, queue: Queue, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(50);
        let mut replayed = 0u64;
        while !*shutdown.borrow() {
            if self.is_empty() {
                if replayed > 0 {
                    tracing::info!(entries = replayed, "the spool is replayed; ingest appends to Redis again");
                    replayed = 0;
                }
                tokio::select! {
                    _ = self.inner.appended.notified() => {}
                    _ = shutdown.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            let pause = match self.read().await {
                Ok(batch) if batch.entries.is_empty() => Duration::from_millis(10),
                Ok(batch) => match queue.push_many(&batch.entries).await {
                    Ok(()) => {
                        let n = batch.entries.len() as u64;
                        match self.commit(batch).await {
                            Ok(()) => replayed += n,
                            Err(e) => tracing::error!(error = %e, "could not record the spool's replay position"),
                        }
                        backoff = Duration::from_millis(50);
                        Duration::ZERO
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "redis does not take the spool's entries yet");
                        backoff = (backoff * 2).min(REPLAY_MAX_BACKOFF);
                        backoff
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "could not read the spool");
                    REPLAY_MAX_BACKOFF
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has answered what it holds.
        drop(std::mem::replace(&mut self.commands, mpsc::channel().0));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn spool_error(dir: &Path, e: io::Error) -> ServerError {
    ServerError::Spool(io::Error::new(e.kind(), format!("spool directory {}: {e}", dir.display())))
}

/// The spool's files, owned by its thread.
struct Files {
    dir: PathBuf,
    /// Every segment on disk and the length of its valid records.
    segments: BTreeMap<u64, u64>,
    /// The segment appended to, once this run has appended.
    active: Option<(u64, File)>,
    next_segment: u64,
    /// The next record to replay.
    cursor: Position,
    /// The segment being replayed, open, and the offset its file position is at.
    reader: Option<(u64, File, u64)>,
    /// The counters the handles read (given back here on a failed append and a saved commit).
    held: Arc<Held>,
    /// Held for the life of the thread: the directory's lock.
    _lock: File,
}

impl Files {
    /// Opens the directory: takes its lock, drops replayed segments, cuts torn records off;
    /// answers the entries and bytes still to replay.
    fn open(dir: &Path) -> io::Result<(Self, u64, u64)> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("lock"))?;
        lock.try_lock().map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "held by another process"))?;
        let mut cursor = read_cursor(dir)?.unwrap_or(Position { segment: 0, offset: 0 });
        let mut segments = BTreeMap::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(seq) = segment_number(&path) else {
                continue;
            };
            if seq < cursor.segment {
                fs::remove_file(&path)?;
            } else {
                segments.insert(seq, 0);
            }
        }
        let (mut entries, mut bytes) = (0, 0);
        for (&seq, valid) in segments.iter_mut() {
            let path = segment_path(dir, seq);
            let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
            let start = if seq == cursor.segment { cursor.offset } else { 0 };
            let (len, n, b) = scan(&mut file, start)?;
            if len < file.metadata()?.len() {
                tracing::warn!(segment = %path.display(), valid = len, "cutting a torn record off the spool");
                file.set_len(len)?;
                file.sync_all()?;
            }
            *valid = len;
            entries += n;
            bytes += b;
        }
        if let Some((&first, _)) = segments.iter().next()
            && first > cursor.segment
        {
            cursor = Position { segment: first, offset: 0 };
        }
        let next_segment =
            segments.keys().next_back().map_or(cursor.segment, |last| last.saturating_add(1)).max(cursor.segment);
        let files = Self {
            dir: dir.to_owned(),
            segments,
            active: None,
            next_segment,
            cursor,
            reader: None,
            held: Arc::default(),
            _lock: lock,
        };
        Ok((files, entries, bytes))
    }

    /// Answers commands until every `Spool` handle is gone; runs of appends share one sync.
    fn serve(mut self, commands: mpsc::Receiver<Command>) {
        let mut next = commands.recv().ok();
        while let Some(command) = next.take() {
            match command {
                Command::Append(entry, reply) => {
                    let mut run = vec![(entry, reply)];
                    let mut run_bytes = run[0].0.len();
                    // Gather what else is waiting, up to a bound, and write it all at once.
                    while run.len() < 4096 && run_bytes < (8 << 20) {
                        match commands.try_recv() {
                            Ok(Command::Append(entry, reply)) => {
                                run_bytes += entry.len();
                                run.push((entry, reply));
                            }
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let (entries, replies): (Vec<_>, Vec<_>) = run.into_iter().unzip();
                    let result = self.append(&entries);
                    if result.is_err() {
                        let bytes = entries.iter().map(|e| e.len() as u64 + HEADER).sum();
                        self.held.release(entries.len() as u64, bytes);
                    }
                    for reply in replies {
                        let _ = reply.send(match &result {
                            Ok(()) => Ok(()),
                            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                        });
                    }
                }
                Command::Read(reply) => {
                    let _ = reply.send(self.read(REPLAY_ENTRIES, REPLAY_BYTES));
                }
                Command::Commit { to, entries, bytes, reply } => {
                    let _ = reply.send(self.commit(to, entries, bytes));
                }
            }
            if next.is_none() {
                next = commands.recv().ok();
            }
        }
    }

    /// Writes `entries` as records at the end of the active segment and syncs it.
    fn append(&mut self, entries: &[Vec<u8>]) -> io::Result<()> {
        let full =
            self.active.as_ref().is_none_or(|(seq, _)| self.segments.get(seq).copied().unwrap_or(0) >= SEGMENT_BYTES);
        if full {
            let seq = self.next_segment;
            let file = OpenOptions::new().create_new(true).append(true).open(segment_path(&self.dir, seq))?;
            self.next_segment = seq.saturating_add(1);
            self.segments.insert(seq, 0);
            self.active = Some((seq, file));
            File::open(&self.dir)?.sync_all()?;
        }
        let Some((seq, file)) = self.active.as_mut() else {
            return Err(io::Error::other("no active segment"));
        };
        let mut buf = Vec::with_capacity(entries.iter().map(|e| e.len() + HEADER as usize).sum());
        for entry in entries {
            let len = u32::try_from(entry.len()).ok().filter(|n| *n <= MAX_RECORD);
            let len =
                len.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "entry too large for the spool"))?;
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&CHECKSUM.checksum(entry).to_le_bytes());
            buf.extend_from_slice(entry);
        }
        let valid = self.segments.get(seq).copied().unwrap_or(0);
        let written = file.write_all(&buf).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Nothing of this run was answered: take it back, and append to a fresh segment from
            // now on, so what this one holds past `valid` is never read as part of it.
            let _ = file.set_len(valid).and_then(|()| file.sync_all());
            self.active = None;
            return Err(e);
        }
        self.segments.insert(*seq, valid + buf.len() as u64);
        Ok(())
    }

    /// Up to `max_entries` records (or about `max_bytes`) from the cursor on.
    fn read(&mut self, max_entries: usize, max_bytes: u64) -> io::Result<Batch> {
        let mut pos = self.cursor;
        let (mut entries, mut bytes) = (Vec::new(), 0);
        while entries.len() < max_entries && bytes < max_bytes {
            let len = match self.segments.get(&pos.segment) {
                Some(&len) if pos.offset < len => len,
                // At the end of a segment (or before the first): on to the next one, if any.
                _ => match self.segments.range(pos.segment.saturating_add(1)..).next() {
                    Some((&next, _)) => {
                        pos = Position { segment: next, offset: 0 };
                        continue;
                    }
                    None => break,
                },
            };
            let file = match &mut self.reader {
                Some((seq, file, at)) if *seq == pos.segment => {
                    if *at != pos.offset {
                        file.seek(SeekFrom::Start(pos.offset))?;
                    }
                    file
                }
                reader => {
                    let mut file = File::open(segment_path(&self.dir, pos.segment))?;
                    file.seek(SeekFrom::Start(pos.offset))?;
                    &mut reader.insert((pos.segment, file, pos.offset)).1
                }
            };
            let entry = match read_record(file, len - pos.offset) {
                Ok(Some(entry)) => entry,
                // The file's position is unknown now: the next read opens it again.
                Ok(None) => {
                    self.reader = None;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "a damaged record in the spool"));
                }
                Err(e) => {
                    self.reader = None;
                    return Err(e);
                }
            };
            let size = entry.len() as u64 + HEADER;
            pos.offset += size;
            bytes += size;
            entries.push(entry);
            if let Some((_, _, at)) = &mut self.reader {
                *at = pos.offset;
            }
        }
        Ok(Batch { entries, end: pos, bytes })
    }

    /// Moves the cursor to `to`, saves it, gives back the `entries` and `bytes` replayed, and
    /// deletes the segments wholly behind it (best effort: `open` deletes what is left).
    fn commit(&mut self, mut to: Position, entries: u64, bytes: u64) -> io::Result<()> {
        // A segment replayed to its end is done with (the active one too: the next append starts
        // a new segment), so the cursor moves past it.
        if self.segments.get(&to.segment).is_some_and(|len| to.offset >= *len) {
            if self.active.as_ref().is_some_and(|(seq, _)| *seq == to.segment) {
                self.active = None;
            }
            to = Position { segment: to.segment.saturating_add(1), offset: 0 };
            self.next_segment = self.next_segment.max(to.segment);
        }
        write_cursor(&self.dir, to)?;
        self.cursor = to;
        self.held.release(entries, bytes);
        let behind: Vec<u64> = self.segments.range(..to.segment).map(|(seq, _)| *seq).collect();
        for seq in behind {
            self.segments.remove(&seq);
            if self.reader.as_ref().is_some_and(|(s, _, _)| *s == seq) {
                self.reader = None;
            }
            if let Err(e) = fs::remove_file(segment_path(&self.dir, seq)) {
                tracing::warn!(error = %e, segment = seq, "could not delete a replayed spool segment");
            }
        }
        Ok(())
    }
}

/// Reads one record of at most `room` bytes at the file's position; `None` when it is torn or
/// damaged.
fn read_record(file: &mut File, room: u64) -> io::Result<Option<Vec<u8>>> {
    if room < HEADER {
        return Ok(None);
    }
    let mut header = [0u8; HEADER as usize];
    file.read_exact(&mut header)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > MAX_RECORD || u64::from(len) > room - HEADER {
        return Ok(None);
    }
    let mut entry = vec![0; len as usize];
    file.read_exact(&mut entry)?;
    Ok((CHECKSUM.checksum(&entry) == sum).then_some(entry))
}

/// Walks a segment's records from `from` (the cursor, in its segment; what lies before it is
/// replayed and not looked at): answers where its valid records end, and their entries and bytes.
fn scan(file: &mut File, from: u64) -> io::Result<(u64, u64, u64)> {
    let size = file.metadata()?.len();
    if from >= size {
        return Ok((size, 0, 0));
    }
    file.seek(SeekFrom::Start(from))?;
    let mut reader = io::BufReader::new(&mut *file);
    let (mut pos, mut entries, mut bytes) = (from, 0, 0);
    let mut header = [0u8; HEADER as usize];
    let mut body = Vec::new();
    while size - pos >= HEADER {
        reader.read_exact(&mut header)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        // A zero length is never written: zeros are space a crash left unwritten.
        if len == 0 || len > MAX_RECORD || u64::from(len) > size - pos - HEADER {
            break;
        }
        body.resize(len as usize, 0);
        reader.read_exact(&mut body)?;
        if CHECKSUM.checksum(&body) != sum {
            break;
        }
        entries += 1;
        bytes += u64::from(len) + HEADER;
        pos += u64::from(len) + HEADER;
    }
    Ok((pos, entries, bytes))
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

fn segment_number(path: &Path) -> Option<u64> {
    let digits = path.file_name()?.to_str()?.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn read_cursor(dir: &Path) -> io::Result<Option<Position>> {
    match fs::read_to_string(dir.join("cursor")) {
        Ok(text) => {
            let mut parts = text.split_whitespace().map(str::parse::<u64>);
            match (parts.next(), parts.next()) {
                (Some(Ok(segment)), Some(Ok(offset))) => Ok(Some(Position { segment, offset })),
                _ => Err(io::Error::new(io::ErrorKind::InvalidData, "the spool's cursor file is damaged")),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Saves the cursor so that a crash leaves either the old or the new one.
fn write_cursor(dir: &Path, at: Position) -> io::Result<()> {
    let tmp = dir.join("cursor.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(format!("{} {}\n", at.segment, at.offset).as_bytes())?;
    file.sync_data()?;
    fs::rename(&tmp, dir.join("cursor"))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own under the system's temporary directory, removed afterwards.
    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("faultline-spool-{}", uuid::Uuid::new_v4().simple()));
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn entry(i: usize) -> Vec<u8> {
        format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 50)).into_bytes()
    }

    async fn drain(spool: &Spool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let batch = spool.read().await.unwrap();
            if batch.entries.is_empty() {
                return out;
            }
            out.extend(batch.entries.iter().cloned());
            spool.commit(batch).await.unwrap();
        }
    }

    fn segments(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().filter(|e| segment_number(&e.as_ref().unwrap().path()).is_some()).count()
    }

    #[tokio::test]
    async fn appended_entries_survive_a_reopen_and_come_back_in_order() {
        let dir = Dir::new();
        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        assert!(spool.is_empty());
        for i in 0..2500 {
            spool.append(entry(i)).await.unwrap();
        }
        assert_eq!(spool.load().entries, 2500);
        drop(spool);

        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        assert_eq!(spool.load().entries, 2500);
        let read = drain(&spool).await;
        assert_eq!(read, (0..2500).map(entry).collect::<Vec<_>>());
        assert!(spool.is_empty());
        assert_eq!(spool.load().bytes, 0);
        assert_eq!(segments(&dir.0.join("slot-0")), 0, "replayed segments are deleted");
    }

    #[tokio::test]
    async fn replayed_entries_are_not_read_again_after_a_reopen() {
        let dir = Dir::new();
        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        for i in 0..1500 {
            spool.append(entry(i)).await.unwrap();
        }
        // One batch reaches the stream, then the process stops.
        let first = spool.read().await.unwrap();
        let n = first.entries.len();
        assert!(n > 0 && n < 1500);
        spool.commit(first).await.unwrap();
        drop(spool);

        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        assert_eq!(spool.load().entries, (1500 - n) as u64);
        assert_eq!(drain(&spool).await, (n..1500).map(entry).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn entries_spanning_several_segments_replay_in_order_and_free_each_segment() {
        let dir = Dir::new();
        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        let big = |i: usize| format!("{i:06}{}", "y".repeat(128 << 10)).into_bytes();
        for i in 0..300 {
            spool.append(big(i)).await.unwrap();
        }
        assert_eq!(segments(&dir.0.join("slot-0")), 3);
        // Replay past the end of the first segment (about 128 of these entries), then stop.
        let mut n = 0;
        while n < 140 {
            let batch = spool.read().await.unwrap();
            n += batch.entries.len();
            spool.commit(batch).await.unwrap();
        }
        assert_eq!(segments(&dir.0.join("slot-0")), 2, "the replayed segment is deleted");
        drop(spool);

        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        assert_eq!(spool.load().entries, (300 - n) as u64);
        assert_eq!(drain(&spool).await, (n..300).map(big).collect::<Vec<_>>());
        assert_eq!(segments(&dir.0.join("slot-0")), 0);
    }

    #[tokio::test]
    async fn a_torn_record_at_the_end_is_cut_off_and_the_rest_kept() {
        let dir = Dir::new();
        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        for i in 0..10 {
            spool.append(entry(i)).await.unwrap();
        }
        drop(spool);
        // A crash in the middle of an append: a header and half an entry.
        let path = segment_path(&dir.0.join("slot-0"), 0);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&200u32.to_le_bytes()).unwrap();
        file.write_all(&[1, 2, 3, 4, b'{', b'"']).unwrap();
        drop(file);

        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        assert_eq!(spool.load().entries, 10);
        spool.append(entry(10)).await.unwrap();
        assert_eq!(drain(&spool).await, (0..11).map(entry).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn zeros_a_crash_left_at_the_end_are_not_read_as_entries() {
        let dir = Dir::new();
        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        for i in 0..3 {
            spool.append(entry(i)).await.unwrap();
        }
        drop(spool);
        // The file grew, its data never reached the disk: zeros, which checksum as empty records.
        let path = segment_path(&dir.0.join("slot-0"), 0);
        OpenOptions::new().append(true).open(&path).unwrap().write_all(&[0u8; 4096]).unwrap();

        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        assert_eq!(spool.load().entries, 3);
        assert!(matches!(spool.append(Vec::new()).await, Err(ServerError::Spool(_))), "empty entries are refused");
        assert_eq!(drain(&spool).await, (0..3).map(entry).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_damaged_record_stops_the_segment_there() {
        let dir = Dir::new();
        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        for i in 0..5 {
            spool.append(entry(i)).await.unwrap();
        }
        drop(spool);
        // Flip a byte of the third entry: its checksum no longer matches.
        let path = segment_path(&dir.0.join("slot-0"), 0);
        let mut bytes = fs::read(&path).unwrap();
        let third = (0..2).map(|i| entry(i).len() + HEADER as usize).sum::<usize>() + HEADER as usize + 2;
        bytes[third] ^= 0xff;
        fs::write(&path, bytes).unwrap();

        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        assert_eq!(drain(&spool).await, (0..2).map(entry).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_full_spool_refuses_and_takes_again_once_replayed() {
        let dir = Dir::new();
        let size = entry(0).len() as u64 + HEADER;
        let spool = Spool::open(&dir.0, size * 3).unwrap();
        for _ in 0..3 {
            spool.append(entry(0)).await.unwrap();
        }
        assert!(matches!(spool.append(entry(0)).await, Err(ServerError::SpoolFull)));
        assert_eq!(spool.load().entries, 3, "a refused entry is not counted");
        assert_eq!(drain(&spool).await.len(), 3);
        spool.append(entry(0)).await.unwrap();
    }

    #[tokio::test]
    async fn a_second_process_takes_a_slot_of_its_own_and_a_freed_slot_is_taken_again() {
        let dir = Dir::new();
        let first = Spool::open(&dir.0, 1 << 20).unwrap();
        first.append(entry(1)).await.unwrap();
        let second = Spool::open(&dir.0, 1 << 20).unwrap();
        assert!(second.is_empty(), "the second process does not share the first one's slot");
        second.append(entry(2)).await.unwrap();
        drop(first);
        // The next process takes the freed slot and, with it, what the first one left.
        let third = Spool::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(drain(&third).await, vec![entry(1)]);
        assert_eq!(drain(&second).await, vec![entry(2)]);
    }

    #[tokio::test]
    async fn appends_during_the_replay_follow_the_replayed_ones_in_order() {
        let dir = Dir::new();
        let spool = Spool::open(&dir.0, 1 << 30).unwrap();
        let mut expected = Vec::new();
        let mut read = Vec::new();
        for round in 0..5 {
            for i in 0..700 {
                let e = entry(round * 1000 + i);
                expected.push(e.clone());
                spool.append(e).await.unwrap();
            }
            let batch = spool.read().await.unwrap();
            read.extend(batch.entries.iter().cloned());
            spool.commit(batch).await.unwrap();
        }
        read.extend(drain(&spool).await);
        assert_eq!(read, expected);
        assert!(spool.is_empty());
    }
}
