//! A repository on an SMB 3 share, through libsmbclient (the `pavao` crate).
//!
//! The repository lives under `smb://HOST[:PORT]/SHARE[/PATH]`; `PATH` and the object folders are
//! created on demand. Every connection requires SMB 3 as the minimum dialect and, unless the
//! operator opted out ([`Transport::AllowUnencrypted`]), SMB 3 encryption and signing: before
//! logging on, cairn asks the server what it offers with an SMB2 NEGOTIATE of its own
//! (`smb_negotiate`), refuses a server without them ([`StorageErrorKind::Insecure`], before any
//! password is sent), and asks libsmbclient for encryption exactly when the server offers it.
//! libsmbclient alone cannot be trusted with this: asked to require encryption from a server
//! without it, version 4.17 prints a warning on stdout and logs on unencrypted. Writes go to a temporary name in the object's
//! folder, in large blocks, and are renamed into place once complete and of the right size.
//!
//! pavao serialises every libsmbclient call in the process behind one lock, so transfers are
//! done in large blocks ([`BLOCK`]) and a hung server is cut off by the context timeout. In the
//! `cairn` binary, large writes and all reads run in worker processes, one connection each
//! ([`super::smb_pool`]), so that they run in parallel.

pub use super::smb_pool::Workers;
use super::{budget, valid_name, Backend, FetchInto, ObjectInfo, TEMP_PREFIX};
use crate::error::{StorageError, StorageErrorKind};
use pavao::{
    SmbClient, SmbCredentials, SmbDialect, SmbDirentType, SmbEncryptionLevel, SmbError, SmbMode,
    SmbOpenOptions, SmbOptions,
};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Mutex;
use std::time::Duration;

/// Size of one read or write request sent to the share.
pub const BLOCK: usize = 4 * 1024 * 1024;

/// How long one request may wait for the server before it fails (a hung server never hangs cairn).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the connection must protect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// SMB 3 encryption (and with it integrity) is required; a server without it is refused.
    #[default]
    Encrypted,
    /// Encryption is requested but a server without it is accepted (`--allow-unencrypted`).
    AllowUnencrypted,
}

/// Where an SMB repository lives: `smb://HOST[:PORT]/SHARE[/PATH]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbLocation {
    /// Server name or address.
    pub host: String,
    /// TCP port (445 when `None`).
    pub port: Option<u16>,
    /// Share name.
    pub share: String,
    /// Folder on the share under which the repository lives ("" for the share's root), '/'-separated.
    pub path: String,
}

impl SmbLocation {
    /// The URL, without credentials.
    pub fn url(&self) -> String {
        let mut s = format!("smb://{}", self.host);
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s.push('/');
        s.push_str(&self.share);
        if !self.path.is_empty() {
            s.push('/');
            s.push_str(&self.path);
        }
        s
    }

    fn server_uri(&self) -> String {
        match self.port {
            Some(p) => format!("smb://{}:{p}", self.host),
            None => format!("smb://{}", self.host),
        }
    }
}

/// A repository on an SMB share.
pub struct SmbBackend {
    client: SmbClient,
    location: SmbLocation,
    username: String,
    /// "/PATH" (URL-encoded) or "" for the share's root.
    base: String,
    /// Folders known to exist (relative names, "" = base).
    made: Mutex<HashSet<String>>,
    /// The worker processes that run large writes and the reads, if any.
    pool: Option<super::smb_pool::Pool>,
}

impl std::fmt::Debug for SmbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbBackend")
            .field("location", &self.location)
            .field("username", &self.username)
            .finish()
    }
}

/// Percent-encode one path component for a libsmbclient URL.
fn encode(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for b in component.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encode_path(path: &str) -> String {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// The OS error number behind a pavao error, if any.
fn errno_of(e: &SmbError) -> Option<i32> {
    match e {
        SmbError::Io(io) => io.raw_os_error(),
        _ => None,
    }
}

/// Classify an errno from libsmbclient. `connecting` is true while reaching the share itself
/// (where EACCES/EPERM mean the logon was refused and ENOENT that the share does not exist).
pub(crate) fn classify(errno: Option<i32>, connecting: bool) -> StorageErrorKind {
    use StorageErrorKind as K;
    match errno {
        Some(
            libc::ECONNREFUSED
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
            | libc::EHOSTDOWN
            | libc::ENETDOWN
            | libc::EADDRNOTAVAIL,
        ) => K::Unreachable,
        Some(libc::ETIMEDOUT) if connecting => K::Unreachable,
        Some(
            libc::ECONNRESET
            | libc::EPIPE
            | libc::ETIMEDOUT
            | libc::ENOTCONN
            | libc::ECONNABORTED
            | libc::ENETRESET
            | libc::ESHUTDOWN
            | libc::EIO,
        ) => K::Disconnected,
        Some(libc::EACCES | libc::EPERM) if connecting => K::LogonFailure,
        Some(libc::EACCES | libc::EPERM) => K::AccessDenied,
        Some(libc::ENOENT | libc::ENODEV | libc::ENXIO) if connecting => K::ShareNotFound,
        Some(libc::ENOENT | libc::ENOTDIR) => K::NotFound,
        Some(libc::ENOSPC | libc::EDQUOT) => K::NoSpace,
        _ => K::Io,
    }
}

fn detail(e: &SmbError, errno: Option<i32>) -> String {
    match errno {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => e.to_string(),
    }
}

impl SmbBackend {
    /// Connect to `location` as `username`, with the default timeout, and make sure the
    /// repository folder exists.
    pub fn connect(
        location: &SmbLocation,
        username: &str,
        password: &str,
    ) -> Result<Self, StorageError> {
        Self::connect_with_timeout(location, username, password, DEFAULT_TIMEOUT)
    }

    /// As [`SmbBackend::connect`], with a per-request timeout.
    pub fn connect_with_timeout(
        location: &SmbLocation,
        username: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Self, StorageError> {
        Self::connect_with(location, username, password, timeout, Transport::Encrypted)
    }

    /// As [`SmbBackend::connect`], with a per-request timeout and a transport policy; transfers
    /// run in worker processes where this process can start them ([`Workers::of_this_process`]).
    pub fn connect_with(
        location: &SmbLocation,
        username: &str,
        password: &str,
        timeout: Duration,
        transport: Transport,
    ) -> Result<Self, StorageError> {
        let workers = Workers::of_this_process();
        Self::connect_using(location, username, password, timeout, transport, &workers)
    }

    /// As [`SmbBackend::connect_with`], with the transfers run as `workers` says.
    pub fn connect_using(
        location: &SmbLocation,
        username: &str,
        password: &str,
        timeout: Duration,
        transport: Transport,
        workers: &Workers,
    ) -> Result<Self, StorageError> {
        let mut backend = Self::in_process(location, username, password, timeout, transport)?;
        if let Workers::Processes { binary, count } = workers {
            backend.pool = Some(super::smb_pool::Pool::new(
                binary.clone(),
                *count,
                location,
                username,
                password,
                timeout,
                transport == Transport::AllowUnencrypted,
            ));
        }
        Ok(backend)
    }

    /// Connect, with every transfer on this process's one connection (what a worker does).
    pub(super) fn in_process(
        location: &SmbLocation,
        username: &str,
        password: &str,
        timeout: Duration,
        transport: Transport,
    ) -> Result<Self, StorageError> {
        // What the server offers decides, not what libsmbclient is asked for (see the module
        // documentation): refuse a server without encryption unless the operator opted out,
        // and ask libsmbclient for encryption exactly when the server offers it (asked for it
        // when it is not offered, libsmbclient prints a warning on stdout and goes on).
        let place = format!("{} (user {})", location.url(), username);
        let offer = super::smb_negotiate::ask(
            &location.host,
            location.port.unwrap_or(445),
            timeout,
            &place,
        )?;
        if transport == Transport::Encrypted && (!offer.encryption || !offer.signing) {
            return Err(StorageError::new(
                StorageErrorKind::Insecure,
                place,
                format!(
                    "the server offers {} (SMB dialect {:x}); cairn requires both encryption and signing",
                    match (offer.encryption, offer.signing) {
                        (false, false) => "neither SMB 3 encryption nor signing",
                        (false, true) => "signing but no SMB 3 encryption",
                        _ => "encryption but no signing",
                    },
                    offer.dialect
                ),
            ));
        }
        let level = if offer.encryption {
            SmbEncryptionLevel::Require
        } else {
            SmbEncryptionLevel::None
        };
        let backend = Self::client(location, username, password, timeout, level)?;
        backend.reach()?;
        backend.ensure_dir("")?;
        Ok(backend)
    }

    /// A client for `location` (not connected yet: libsmbclient connects on the first request).
    fn client(
        location: &SmbLocation,
        username: &str,
        password: &str,
        timeout: Duration,
        level: SmbEncryptionLevel,
    ) -> Result<Self, StorageError> {
        let (user, workgroup) = match username.split_once(['\\', '/']) {
            Some((wg, u)) => (u.to_string(), wg.to_string()),
            None => (username.to_string(), String::new()),
        };
        let creds = SmbCredentials::default()
            .server(location.server_uri())
            .share(format!("/{}", encode(&location.share)))
            .username(&user)
            .password(password)
            .workgroup(&workgroup);
        let options = SmbOptions::default()
            .min_protocol(SmbDialect::Smb300)
            .max_protocol(SmbDialect::Smb311)
            .encryption_level(level)
            .no_auto_anonymous_login(true)
            .case_sensitive(true)
            .one_share_per_server(false);
        let describe = format!("{} (user {})", location.url(), username);
        let lib_err = |e: SmbError| {
            StorageError::new(
                StorageErrorKind::Io,
                describe.clone(),
                format!("libsmbclient: {e}"),
            )
        };
        let client = SmbClient::new(creds, options).map_err(lib_err)?;
        client.set_timeout(timeout).map_err(lib_err)?;
        let base = match encode_path(&location.path) {
            p if p.is_empty() => String::new(),
            p => format!("/{p}"),
        };
        Ok(SmbBackend {
            client,
            location: location.clone(),
            username: username.to_string(),
            base,
            made: Mutex::new(HashSet::new()),
            pool: None,
        })
    }

    /// Reach the share's root, classifying logon and share failures.
    /// A refusal for a moment (a busy server) is tried again ([`super::refused`]).
    fn reach(&self) -> Result<(), StorageError> {
        super::refused::retry(|| self.client.stat("/"), errno_of)
            .map(|_| ())
            .map_err(|e| {
                let errno = errno_of(&e);
                StorageError::new(classify(errno, true), self.describe(), detail(&e, errno))
            })
    }

    /// The location of an object, for messages.
    fn loc(&self, name: &str) -> String {
        if name.is_empty() {
            self.describe()
        } else {
            format!("{}/{}", self.location.url(), name)
        }
    }

    fn err(&self, name: &str, e: &SmbError) -> StorageError {
        let errno = errno_of(e);
        StorageError::new(classify(errno, false), self.loc(name), detail(e, errno))
    }

    fn io_err(&self, name: &str, e: &std::io::Error) -> StorageError {
        StorageError::new(
            classify(e.raw_os_error(), false),
            self.loc(name),
            e.to_string(),
        )
    }

    /// The share-relative path of an object or folder (relative name, already checked).
    fn path(&self, rel: &str) -> String {
        if rel.is_empty() {
            if self.base.is_empty() {
                "/".into()
            } else {
                self.base.clone()
            }
        } else {
            format!("{}/{}", self.base, encode_path(rel))
        }
    }

    fn check(&self, name: &str) -> Result<(), StorageError> {
        if valid_name(name) {
            Ok(())
        } else {
            Err(StorageError::new(
                StorageErrorKind::Io,
                self.describe(),
                format!("invalid object name {name:?}"),
            ))
        }
    }

    /// Create the folder `rel` (relative to the repository) and its parents (including PATH).
    fn ensure_dir(&self, rel: &str) -> Result<(), StorageError> {
        if self
            .made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(rel)
        {
            return Ok(());
        }
        // Every prefix of PATH/rel, shortest first.
        let mut parts: Vec<String> = Vec::new();
        let mut acc = String::new();
        for comp in self.location.path.split('/').filter(|c| !c.is_empty()) {
            acc.push('/');
            acc.push_str(&encode(comp));
            parts.push(acc.clone());
        }
        for comp in rel.split('/').filter(|c| !c.is_empty()) {
            acc.push('/');
            acc.push_str(&encode(comp));
            parts.push(acc.clone());
        }
        for p in parts {
            match self.client.mkdir(&p, SmbMode::from(0o755)) {
                Ok(()) => {}
                Err(e) if errno_of(&e) == Some(libc::EEXIST) => {}
                Err(e) => {
                    // Some servers answer EACCES for an existing folder: accept it if it is a folder.
                    match self.client.stat(&p) {
                        Ok(st) if st.mode.is_dir() => {}
                        _ => return Err(self.err(rel, &e)),
                    }
                }
            }
        }
        self.made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rel.to_string());
        Ok(())
    }

    /// List a folder; `Ok(None)` if it does not exist.
    fn list_folder(&self, rel: &str) -> Result<Option<Vec<pavao::SmbDirentInfo>>, StorageError> {
        match self.client.list_dirplus(self.path(rel)) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                // pavao reports a failed opendir as BadFileDescriptor; errno still says why.
                let errno = errno_of(&e).or_else(|| std::io::Error::last_os_error().raw_os_error());
                let errno = match errno {
                    Some(0) | None => match self.client.stat(self.path(rel)) {
                        Ok(_) => None,
                        Err(e2) => errno_of(&e2),
                    },
                    n => n,
                };
                match classify(errno, false) {
                    StorageErrorKind::NotFound => Ok(None),
                    kind => Err(StorageError::new(kind, self.loc(rel), detail(&e, errno))),
                }
            }
        }
    }

    fn walk(
        &self,
        rel: &str,
        out: &mut Vec<ObjectInfo>,
        temps: &mut Vec<String>,
    ) -> Result<(), StorageError> {
        let Some(entries) = self.list_folder(rel)? else {
            return Ok(());
        };
        for ent in entries {
            let name = ent.name().to_string();
            if name.is_empty() || name == "." || name == ".." {
                continue;
            }
            let Some(child) = super::entry_name(rel, &name) else {
                continue;
            };
            if name.starts_with(TEMP_PREFIX) {
                temps.push(child);
            } else if ent.get_type() == SmbDirentType::Dir {
                self.walk(&child, out, temps)?;
            } else {
                out.push(ObjectInfo {
                    name: child,
                    size: ent.size,
                });
            }
        }
        Ok(())
    }

    fn read_into(
        &self,
        name: &str,
        offset: u64,
        len: Option<usize>,
    ) -> Result<Vec<u8>, StorageError> {
        self.check(name)?;
        if let Some(pool) = &self.pool {
            let most = match len {
                Some(l) => (l as u64).min(budget::cap_of(name) + 1),
                None => budget::cap_of(name),
            };
            let wanted = len.map(|l| l as u64);
            if let Some(r) = pool.read(name, offset, wanted, most, self.loc(name)) {
                return r;
            }
        }
        // A whole read learns the size first (a stat: one round trip) and refuses an oversize
        // object unread; a range read is only bounded by the cap (no extra round trip per range).
        if len.is_none() {
            self.checked_size(name)?;
        }
        // Never more than the cap (+1 to see an object that grew after the stat).
        let cap = budget::cap_of(name);
        let len = Some(match len {
            Some(l) => l.min(cap as usize + 1),
            None => cap as usize + 1,
        });
        let mut f = self.open_read(name)?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| self.io_err(name, &e))?;
        }
        // read in place, at most a block at a time: the only bytes zeroed are those about to be
        // read (a range of a copy is one block, and no second buffer is filled and copied)
        let mut out = Vec::new();
        loop {
            let want = match len {
                Some(l) => (l - out.len()).min(BLOCK),
                None => BLOCK,
            };
            if want == 0 {
                break;
            }
            let at = out.len();
            out.resize(at + want, 0);
            let n = f.read(&mut out[at..]).map_err(|e| self.io_err(name, &e))?;
            out.truncate(at + n);
            if n == 0 {
                break;
            }
        }
        if offset == 0 {
            budget::check_size(name, out.len() as u64, self.loc(name))?;
        }
        Ok(out)
    }

    /// The size of `name` on the share (a stat), refused if over the cap of its kind: an
    /// oversize object is never read.
    fn checked_size(&self, name: &str) -> Result<u64, StorageError> {
        let size = self
            .client
            .stat(self.path(name))
            .map_err(|e| self.err(name, &e))?
            .size;
        budget::check_size(name, size, self.loc(name))?;
        Ok(size)
    }

    /// `name` opened for reading on this process's connection.
    fn open_read(&self, name: &str) -> Result<pavao::SmbFile<'_>, StorageError> {
        self.client
            .open_with(self.path(name), SmbOpenOptions::default().read(true))
            .map_err(|e| self.err(name, &e))
    }

    /// [`Backend::hash_object`] on this process's connection: one open, [`BLOCK`] reads, never
    /// more than the cap of `name`'s kind.
    fn hash_here(&self, name: &str) -> Result<(blake3::Hash, u64), StorageError> {
        self.checked_size(name)?;
        self.read_hashed(name, None, |_| Ok(()))
    }

    /// [`Request::Fetch`](super::smb_wire::Request::Fetch) on this process's connection (a
    /// worker serves it with this): the object's first `size` bytes (at most the cap of `name`'s
    /// kind) written into the existing local file `into` from its start (opened for writing
    /// only: never created here, never through a symbolic link); their blake3 and count.
    pub(super) fn fetch_here(
        &self,
        name: &str,
        size: u64,
        into: &std::path::Path,
    ) -> Result<(blake3::Hash, u64), StorageError> {
        use std::os::unix::fs::OpenOptionsExt;
        budget::check_size(name, size, self.loc(name))?;
        let local = |e: &std::io::Error| StorageError::from_io(into.display().to_string(), e);
        let mut into = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(into)
            .map_err(|e| local(&e))?;
        self.read_hashed(name, Some(size), |block| {
            into.write_all(block).map_err(|e| local(&e))
        })
    }

    /// `name` read from its start on this process's connection with one open, [`BLOCK`] at a
    /// time, each block handed to `sink`: its first `most` bytes, or (`None`) all of it, never
    /// past the cap of its kind (it may grow after a stat). The blake3 and count of what was read.
    fn read_hashed(
        &self,
        name: &str,
        most: Option<u64>,
        mut sink: impl FnMut(&[u8]) -> Result<(), StorageError>,
    ) -> Result<(blake3::Hash, u64), StorageError> {
        let mut f = self.open_read(name)?;
        let mut hasher = blake3::Hasher::new();
        let mut len = 0u64;
        let left = |len: u64| most.map_or(BLOCK, |m| usize::try_from(m - len).unwrap_or(BLOCK));
        let mut buf = vec![0u8; BLOCK.min(left(0))];
        while left(len) > 0 {
            let want = buf.len().min(left(len));
            let n = f
                .read(&mut buf[..want])
                .map_err(|e| self.io_err(name, &e))?;
            if n == 0 {
                break;
            }
            sink(&buf[..n])?;
            hasher.update(&buf[..n]);
            len += n as u64;
            budget::check_size(name, len, self.loc(name))?;
        }
        Ok((hasher.finalize(), len))
    }

    fn write_temp(
        &self,
        tmp_rel: &str,
        name: &str,
        data: &mut dyn Read,
        size: u64,
    ) -> Result<(), StorageError> {
        let mut f = self
            .client
            .open_with(
                self.path(tmp_rel),
                SmbOpenOptions::default()
                    .write(true)
                    .create(true)
                    .exclusive(true)
                    .mode(0o644),
            )
            .map_err(|e| self.err(name, &e))?;
        // One block in memory at a time, whatever the object's size.
        super::copy_exact(data, size, self.loc(name), |block| {
            f.write_all(block).map_err(|e| self.io_err(name, &e))
        })?;
        drop(f);
        // The temporary file must hold every byte before it takes the object's name.
        let st = self
            .client
            .stat(self.path(tmp_rel))
            .map_err(|e| self.err(name, &e))?;
        if st.size != size {
            return Err(StorageError::new(
                StorageErrorKind::Disconnected,
                self.loc(name),
                format!("short write: {} of {size} bytes reached the share", st.size),
            ));
        }
        self.client
            .rename(self.path(tmp_rel), self.path(name))
            .map_err(|e| self.err(name, &e))
    }

    fn write_stream(&self, name: &str, data: &mut dyn Read, size: u64) -> Result<(), StorageError> {
        self.check(name)?;
        if let Some(pool) = self
            .pool
            .as_ref()
            .filter(|_| size >= super::smb_pool::SMALL)
        {
            if let Some(r) = pool.write(name, data, size, self.loc(name)) {
                return r;
            }
        }
        let (dir, _) = name.rsplit_once('/').unwrap_or(("", name));
        self.ensure_dir(dir)?;
        let tmp_file = format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>());
        let tmp_rel = if dir.is_empty() {
            tmp_file
        } else {
            format!("{dir}/{tmp_file}")
        };
        let res = self.write_temp(&tmp_rel, name, data, size);
        if res.is_err() {
            let _ = self.client.unlink(self.path(&tmp_rel));
        }
        res
    }
}

impl Backend for SmbBackend {
    fn describe(&self) -> String {
        format!("{} (user {})", self.location.url(), self.username)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        if !dir.is_empty() {
            self.check(dir)?;
        }
        let mut out = Vec::new();
        let mut temps = Vec::new();
        self.walk(dir, &mut out, &mut temps)?;
        out.retain(|o| o.name.starts_with(prefix));
        Ok(out)
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        self.read_into(name, 0, None)
    }

    fn read_range(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        self.read_into(name, offset, Some(len))
    }

    fn read_range_into(
        &self,
        name: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StorageError> {
        self.check(name)?;
        if let Some(pool) = &self.pool {
            if let Some(r) = pool.read_into(name, offset, buf, self.loc(name)) {
                return r;
            }
        }
        Ok(super::fill_from(
            buf,
            &self.read_into(name, offset, Some(buf.len()))?,
        ))
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        let mut r = data;
        self.write_stream(name, &mut r, data.len() as u64)
    }

    fn write_from(&self, name: &str, data: &mut dyn Read, size: u64) -> Result<(), StorageError> {
        self.write_stream(name, data, size)
    }

    fn fetch_into(&self, name: &str, size: u64) -> Option<FetchInto<'_>> {
        let pool = self.pool.as_ref()?;
        let name = name.to_string();
        Some(Box::new(move |into| {
            self.check(&name)?;
            // the path travels as JSON text: one that is not UTF-8 is read here instead
            if into.to_str().is_none() {
                return Ok(None);
            }
            pool.fetch(&name, size, into, self.loc(&name)).transpose()
        }))
    }

    fn hash_object(&self, name: &str) -> Result<(blake3::Hash, u64), StorageError> {
        self.check(name)?;
        if let Some(pool) = &self.pool {
            if let Some(r) = pool.hash(name, budget::cap_of(name), self.loc(name)) {
                return r;
            }
        }
        self.hash_here(name)
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        self.check(name)?;
        match self.client.unlink(self.path(name)) {
            Ok(()) => Ok(()),
            Err(e) if matches!(errno_of(&e), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(()),
            Err(e) => Err(self.err(name, &e)),
        }
    }

    fn free_space(&self) -> Result<Option<u64>, StorageError> {
        let st = self
            .client
            .statvfs(self.path(""))
            .map_err(|e| self.err("", &e))?;
        Ok(Some(st.bavail.saturating_mul(st.frsize.max(1))))
    }

    fn stat(&self, name: &str) -> Result<Option<u64>, StorageError> {
        self.check(name)?;
        match self.client.stat(self.path(name)) {
            Ok(st) => Ok(Some(st.size)),
            Err(e) if matches!(errno_of(&e), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(None),
            Err(e) => Err(self.err(name, &e)),
        }
    }

    fn clean_temp(&self) -> Result<usize, StorageError> {
        let mut out = Vec::new();
        let mut temps = Vec::new();
        self.walk("", &mut out, &mut temps)?;
        for t in &temps {
            match self.client.unlink(self.path(t)) {
                Ok(()) => {}
                Err(e) if errno_of(&e) == Some(libc::ENOENT) => {}
                Err(e) => return Err(self.err(t, &e)),
            }
        }
        Ok(temps.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded_and_described_without_secrets() {
        let loc = SmbLocation {
            host: "nas".into(),
            port: Some(4455),
            share: "backups".into(),
            path: "a b/c".into(),
        };
        assert_eq!(loc.url(), "smb://nas:4455/backups/a b/c");
        assert_eq!(encode_path("a b/c%"), "a%20b/c%25");
        assert_eq!(loc.server_uri(), "smb://nas:4455");
    }

    #[test]
    fn errors_are_classified() {
        use StorageErrorKind as K;
        assert_eq!(classify(Some(libc::ECONNREFUSED), true), K::Unreachable);
        assert_eq!(classify(Some(libc::EACCES), true), K::LogonFailure);
        assert_eq!(classify(Some(libc::EACCES), false), K::AccessDenied);
        assert_eq!(classify(Some(libc::ENOENT), true), K::ShareNotFound);
        assert_eq!(classify(Some(libc::ENOENT), false), K::NotFound);
        assert_eq!(classify(Some(libc::ENOSPC), false), K::NoSpace);
        assert_eq!(classify(Some(libc::EDQUOT), false), K::NoSpace);
        assert_eq!(classify(Some(libc::ECONNRESET), false), K::Disconnected);
        assert_eq!(classify(Some(libc::ENETRESET), false), K::Disconnected);
        assert_eq!(classify(Some(libc::ETIMEDOUT), false), K::Disconnected);
        assert_eq!(classify(None, false), K::Io);
    }
}
