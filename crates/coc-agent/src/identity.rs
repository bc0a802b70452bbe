//! The agent's own identity (R3): an Ed25519 key pair made on the host on
//! first start and kept in `<state-dir>/agent.key` (PKCS#8, mode 0600).
//! The server binds its public key to the host at enrollment; every later
//! connection proves the key by signing the server's challenge
//! ([`coc_proto::proof_message`]). The private key never leaves the host.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// File name of the key in the state directory.
pub const KEY_FILE: &str = "agent.key";

/// The agent's key pair.
pub struct Identity {
    key: Ed25519KeyPair,
    public_hex: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &self.public_hex)
            .finish_non_exhaustive()
    }
}

/// Creates `dir` if needed and makes it private to the agent's user (0700):
/// it holds the key, task markers and unacknowledged results.
///
/// Errors: the directory cannot be created or its mode set.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

impl Identity {
    /// Reads the key from `<state_dir>/agent.key`, creating it on first
    /// start (the file is written with mode 0600 before any byte of the
    /// key is in it).
    ///
    /// Errors: the directory or file cannot be written, or the file holds
    /// no valid key.
    pub fn load_or_create(state_dir: &Path) -> std::io::Result<Identity> {
        private_dir(state_dir)?;
        let p = state_dir.join(KEY_FILE);
        let pkcs8 = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| std::io::Error::other("cannot generate a key"))?;
                let tmp = state_dir.join(format!("{KEY_FILE}.tmp"));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(doc.as_ref())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &p)?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(e),
        };
        let key = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|e| {
            std::io::Error::other(format!("{} holds no valid key: {e}", p.display()))
        })?;
        let public_hex = hex::encode(key.public_key().as_ref());
        Ok(Identity { key, public_hex })
    }

    /// The public key, 64 hex characters.
    pub fn public_key(&self) -> &str {
        &self.public_hex
    }

    /// Signs the proof for the server's `nonce` (hex signature).
    pub fn prove(&self, nonce: &str, agent_id: &str) -> String {
        let msg = coc_proto::proof_message(nonce, agent_id, &self.public_hex);
        hex::encode(self.key.sign(&msg).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_kept_private_and_stable() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        let a = Identity::load_or_create(&dir).unwrap();
        let b = Identity::load_or_create(&dir).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.public_key().len(), 64);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&dir), 0o700);
        // The proof verifies with the public key, and only for its nonce.
        let sig = hex::decode(a.prove("n1", "agent")).unwrap();
        let pk = hex::decode(a.public_key()).unwrap();
        let v = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pk);
        let msg = coc_proto::proof_message("n1", "agent", a.public_key());
        assert!(v.verify(&msg, &sig).is_ok());
        let other = coc_proto::proof_message("n2", "agent", a.public_key());
        assert!(v.verify(&other, &sig).is_err());
    }
}
