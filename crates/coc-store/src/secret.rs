//! Encryption of sensitive values at rest (X1 sensitive parameters).
//!
//! Envelope encryption with XChaCha20-Poly1305: each value gets its own
//! random 256-bit data key; the data key is wrapped by the key-encryption
//! key (KEK), which lives outside the database (`<data-dir>/secret.key` or
//! `COC_SECRET_KEY`). Stored form:
//! `enc:v1:<hex(wrap_nonce ‖ wrapped_key ‖ nonce ‖ ciphertext)>`.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Prefix of every encrypted value.
pub const PREFIX: &str = "enc:v1:";
/// What API responses show instead of a sensitive value.
pub const MASK: &str = "******";

/// The key-encryption key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Keyring {
    kek: [u8; 32],
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(***)")
    }
}

/// Errors of [`Keyring`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The key text is not 64 hex characters.
    #[error("the secret key must be 64 hex characters (32 bytes)")]
    BadKey,
    /// The stored value is not ours or was tampered with, or the key differs.
    #[error("a stored secret cannot be decrypted (wrong COC secret key?)")]
    Undecryptable,
}

impl Keyring {
    /// A keyring from 32 key bytes.
    pub fn new(kek: [u8; 32]) -> Self {
        Keyring { kek }
    }

    /// A keyring from 64 hex characters. Errors: [`SecretError::BadKey`].
    pub fn from_hex(s: &str) -> Result<Self, SecretError> {
        let v = hex::decode(s.trim()).map_err(|_| SecretError::BadKey)?;
        let kek: [u8; 32] = v.try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Keyring { kek })
    }

    /// A random keyring (tests, first start).
    pub fn random() -> Self {
        Keyring {
            kek: rand::random(),
        }
    }

    /// The key as hex, to be written to the key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.kek)
    }

    /// A key for `purpose` derived from the key-encryption key
    /// (HMAC-SHA256 of the purpose): stable across restarts and replicas
    /// sharing the secret key, and useless for anything else.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        coc_domain::notify::sign(&self.kek, purpose.as_bytes()).into_bytes()
    }

    /// Encrypts `plain` into the stored form.
    pub fn encrypt(&self, plain: &str) -> String {
        let dek: [u8; 32] = rand::random();
        let wrap_nonce: [u8; 24] = rand::random();
        let nonce: [u8; 24] = rand::random();
        let kek = XChaCha20Poly1305::new((&self.kek).into());
        // Encryption with a valid key and nonce cannot fail.
        let wrapped = kek
            .encrypt(&XNonce::from(wrap_nonce), dek.as_slice())
            .unwrap_or_default();
        let data = XChaCha20Poly1305::new((&dek).into());
        let ct = data
            .encrypt(&XNonce::from(nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(24 + wrapped.len() + 24 + ct.len());
        out.extend_from_slice(&wrap_nonce);
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", hex::encode(out))
    }

    /// Decrypts a stored value; a value without [`PREFIX`] is returned as is.
    ///
    /// Errors: [`SecretError::Undecryptable`].
    pub fn decrypt(&self, stored: &str) -> Result<String, SecretError> {
        let Some(h) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let b = hex::decode(h).map_err(|_| SecretError::Undecryptable)?;
        // 24 nonce + 48 wrapped key (32 + 16 tag) + 24 nonce + ≥16 tag
        if b.len() < 24 + 48 + 24 + 16 {
            return Err(SecretError::Undecryptable);
        }
        let (wrap_nonce, rest) = b.split_at(24);
        let (wrapped, rest) = rest.split_at(48);
        let (nonce, ct) = rest.split_at(24);
        let kek = XChaCha20Poly1305::new((&self.kek).into());
        let nonce_of = |b: &[u8]| -> Result<XNonce, SecretError> {
            let a: [u8; 24] = b.try_into().map_err(|_| SecretError::Undecryptable)?;
            Ok(XNonce::from(a))
        };
        let dek = kek
            .decrypt(&nonce_of(wrap_nonce)?, wrapped)
            .map_err(|_| SecretError::Undecryptable)?;
        let dek: [u8; 32] = dek.try_into().map_err(|_| SecretError::Undecryptable)?;
        let data = XChaCha20Poly1305::new((&dek).into());
        let plain = data
            .decrypt(&nonce_of(nonce)?, ct)
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }
}

/// Whether a stored value is encrypted.
pub fn is_encrypted(v: &str) -> bool {
    v.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = Keyring::random();
        let e = k.encrypt("hunter2");
        assert!(is_encrypted(&e));
        assert!(!e.contains("hunter2"));
        assert_ne!(
            e,
            k.encrypt("hunter2"),
            "fresh nonce and data key each time"
        );
        assert_eq!(k.decrypt(&e).unwrap(), "hunter2");
        assert_eq!(k.decrypt("plain").unwrap(), "plain");
        assert_eq!(
            Keyring::random().decrypt(&e),
            Err(SecretError::Undecryptable)
        );
        let mut t = e.clone().into_bytes();
        let last = t.len() - 1;
        t[last] = if t[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            k.decrypt(std::str::from_utf8(&t).unwrap()),
            Err(SecretError::Undecryptable)
        );
        assert_eq!(
            Keyring::from_hex(&k.to_hex()).unwrap().decrypt(&e).unwrap(),
            "hunter2"
        );
        assert!(Keyring::from_hex("abc").is_err());
        assert_eq!(format!("{k:?}"), "Keyring(***)");
    }
}
