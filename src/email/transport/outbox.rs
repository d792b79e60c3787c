//! A transport that writes each message to `<dir>/<Message-ID>.eml` instead
//! of sending it: for development, demos and inspecting what would go out.
//!
//! The file name comes from the Message-ID, which is stable per delivery, so
//! a retried delivery overwrites its earlier file instead of adding a second
//! one. Writes are atomic (temporary file, fsync, rename): a reader never sees
//! half a message, and a crash leaves either the old file or the new one.

use std::io::Write;
use std::path::{Path, PathBuf};

use lettre::Message;
use lettre::address::Envelope;

use super::{MailTransport, SendError, SendFuture, SmtpAccepted, single_recipient};

#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
}

impl Default for FileOutbox {
    fn default() -> Self {
        Self::new(Self::DEFAULT_DIR)
    }
}

impl FileOutbox {
    pub const DEFAULT_DIR: &'static str = "var/outbox";

    /// The directory is created on first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the message with this Message-ID (`<…>` included or not) goes.
    pub fn path_for(&self, message_id: &str) -> PathBuf {
        self.dir.join(file_name(message_id))
    }

    pub async fn write(&self, message: &Message) -> Result<PathBuf, SendError> {
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                SendError::Unsendable("the outbox needs a Message-ID to name the file".to_owned())
            })?;
        let path = self.path_for(message_id);
        let bytes = message.formatted();
        let dir = self.dir.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &target, &bytes))
            .await
            .map_err(|e| SendError::Io(format!("outbox writer task failed: {e}")))?
            .map_err(|e| SendError::Io(format!("writing {}: {e}", path.display())))?;
        Ok(path)
    }
}

impl MailTransport for FileOutbox {
    fn send<'a>(&'a self, message: &'a Message, envelope: &'a Envelope) -> SendFuture<'a> {
        Box::pin(async move {
            single_recipient(envelope)?;
            let path = self.write(message).await?;
            Ok(SmtpAccepted {
                code: 250,
                reply: format!("written to {}", path.display()),
            })
        })
    }
}

fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Unique per attempt so concurrent writers of the same message never
    // share a temporary file; the dot keeps it out of `*.eml` globs.
    let temporary = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result?;
    // Makes the rename itself durable; not possible on every platform.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// An injective, file-system-safe name: letters, digits and `-_.@+` are kept,
/// every other byte becomes `%XX`. Over-long names are cut and suffixed with
/// a stable hash (FNV-1a, not `DefaultHasher`, whose output may change
/// between Rust releases and would break overwrite-on-retry across upgrades).
fn file_name(message_id: &str) -> String {
    let id = message_id.trim();
    let id = id
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or(id);
    let mut name = String::with_capacity(id.len() + 4);
    for (i, byte) in id.bytes().enumerate() {
        let keep =
            byte.is_ascii_alphanumeric() || b"-_@+".contains(&byte) || (byte == b'.' && i > 0);
        if keep {
            name.push(byte as char);
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    // 255 bytes is the usual file-name limit.
    const MAX: usize = 200;
    if name.len() > MAX {
        let hash = fnv1a(id.as_bytes());
        name.truncate(MAX - 17);
        name.push_str(&format!("-{hash:016x}"));
    }
    name.push_str(".eml");
    name
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(
            file_name("<delivery-123.issue-9@pregon.example>"),
            "delivery-123.issue-9@pregon.example.eml"
        );
        assert_eq!(
            file_name("<../../etc/passwd@x>"),
            "%2E.%2F..%2Fetc%2Fpasswd@x.eml"
        );
        assert_ne!(file_name("<a/b@x>"), file_name("<a_b@x>"));
        assert_ne!(file_name("<a%2Fb@x>"), file_name("<a/b@x>"));
        assert_eq!(file_name("<a@x>"), file_name("a@x"));
        let long_a = format!("<{}a@x>", "y".repeat(300));
        let long_b = format!("<{}b@x>", "y".repeat(300));
        assert!(file_name(&long_a).len() <= 204);
        assert_ne!(file_name(&long_a), file_name(&long_b));
        assert_eq!(file_name(&long_a), file_name(&long_a));
    }
}
