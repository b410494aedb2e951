//! Encryption at rest for the secrets posgate must keep to do its job: guests' card codes (needed
//! to re-post a payment) and, with the restaurant registry, POS tokens, client secrets and
//! Expirenza keys. The house rule is that such values never reach logs and are encrypted at rest;
//! this crate is the one place that does the encrypting, so every store seals the same way.
//!
//! - Cipher: AES-256-GCM from the RustCrypto `aes-gcm` crate: pure Rust (no OpenSSL to link or
//!   patch), audited (NCC Group, 2020), constant-time on the usual CPUs (AES-NI/CLMUL when
//!   present, bitsliced otherwise), widely used and kept up to date. GCM authenticates as well as
//!   encrypts, so a changed ciphertext is refused rather than decrypted into garbage.
//! - Nonces: 96 random bits from the OS (`OsRng`) per value. Random nonces are safe far beyond
//!   the number of secrets posgate will ever seal under one key (NIST's bound is 2^32).
//! - Sealed form: `v1:<key id>:<base64(nonce || ciphertext || tag)>`, plain ASCII for a TEXT
//!   column. The key id says which key opens it, so keys can be rotated without a flag day.
//! - Place: every value is sealed for a *place* (e.g. `payments.tenders.card_code/<payment
//!   id>/<tender index>`) passed as associated data together with the header, so a ciphertext
//!   copied to another row, column or tender does not open there.
//! - Keys: a [`Keyring`] with one active key (new values are sealed with it) and any number of
//!   older ones (they only open values). Built from [`SecretsConfig`] (`[secrets]`): keys from the
//!   environment (`POSGATE_SECRETS__KEYS__<ID>=<base64 of 32 bytes>`) or files, never printed.
//!
//! Rotation: add a new key, make it `active`, restart; old values still open with the old key.
//! [`Keyring::rewrap`] re-seals a value under the active key (the stores use it to move every
//! value over); once nothing is sealed with the old key it can be removed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use posgate_core::Secret;
use serde::Deserialize;
use zeroize::Zeroizing;

/// Prefix of every sealed value of this format version.
const V1: &str = "v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const MAX_KEY_ID_LEN: usize = 32;

/// Id of the development key that `dev_key = true` adds.
pub const DEV_KEY_ID: &str = "dev";
/// The development key: PUBLIC (it is in this source), so it protects nothing. For `posgate up`
/// on a laptop and for tests, where a real key would be ceremony.
const DEV_KEY: &[u8; KEY_LEN] = b"posgate-dev-key:PUBLIC-NOT-SAFE!";

/// How a sealed value or a key failed. Never carries key material, plaintext or ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "no encryption key configured: set [secrets] active = \"<id>\" and its key in \
         POSGATE_SECRETS__KEYS__<ID> (base64 of 32 bytes, e.g. `openssl rand -base64 32`) or \
         [secrets.key_files] <id> = \"<path>\"; on a laptop or in tests only, [secrets] dev_key = true"
    )]
    NoKey,
    #[error("[secrets] key {id:?}: {why}")]
    BadKey { id: String, why: String },
    #[error(
        "[secrets] active is not set: name the key new values are sealed with (one of: {have})"
    )]
    NoActive { have: String },
    #[error("[secrets] active = {id:?} is not a configured key (configured: {have})")]
    ActiveMissing { id: String, have: String },
    #[error(
        "value is sealed with key {id:?}, which is not in the keyring (configured: {have}); \
         add it back under [secrets] keys or key_files"
    )]
    UnknownKey { id: String, have: String },
    #[error(
        "value sealed with key {id:?} does not open here: it was altered, copied from another \
         place, or the key configured under {id:?} is not the one it was sealed with"
    )]
    Decrypt { id: String },
    #[error("not a sealed value: {0} (expected v1:<key id>:<base64>)")]
    Format(&'static str),
    #[error("value could not be sealed")]
    Seal,
}

/// The `[secrets]` section. Keys are base64 of 32 random bytes; ids are lower case (figment
/// lower-cases the ids of `POSGATE_SECRETS__KEYS__<ID>`), letters, digits, `-` and `_`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// Id of the key new values are sealed with.
    pub active: Option<String>,
    /// Keys by id, best from the environment: `POSGATE_SECRETS__KEYS__<ID>=<base64>`.
    pub keys: BTreeMap<String, Secret>,
    /// Keys by id, each read from a file holding its base64 (e.g. a mounted secret).
    pub key_files: BTreeMap<String, PathBuf>,
    /// Adds the PUBLIC development key `dev` (active unless `active` names another key). For
    /// `posgate up` on a laptop and tests only; said loudly at start.
    pub dev_key: bool,
}

impl SecretsConfig {
    /// Only the development key: tests and demos.
    pub fn dev() -> SecretsConfig {
        SecretsConfig {
            dev_key: true,
            ..SecretsConfig::default()
        }
    }

    /// The keyring this configuration describes, or why there is none (naming the setting).
    pub fn keyring(&self) -> Result<Keyring, SecretsError> {
        Keyring::from_config(self)
    }
}

/// One active key and the older ones still accepted for opening. Prints key ids only.
pub struct Keyring {
    active: String,
    keys: BTreeMap<String, Aes256Gcm>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring with one key, active. `key` must be 32 bytes.
    pub fn new(id: &str, key: &[u8]) -> Result<Keyring, SecretsError> {
        let mut keys = BTreeMap::new();
        keys.insert(check_id(id)?.to_string(), cipher(id, key)?);
        Ok(Keyring {
            active: id.to_string(),
            keys,
        })
    }

    /// Adds an older key, used only to open values sealed with it.
    pub fn with_old(mut self, id: &str, key: &[u8]) -> Result<Keyring, SecretsError> {
        check_id(id)?;
        if self.keys.contains_key(id) {
            return Err(bad(id, "given twice"));
        }
        self.keys.insert(id.to_string(), cipher(id, key)?);
        Ok(self)
    }

    /// Builds the keyring from `[secrets]`; warns loudly when the development key is in it.
    pub fn from_config(cfg: &SecretsConfig) -> Result<Keyring, SecretsError> {
        let mut material: BTreeMap<String, Zeroizing<Vec<u8>>> = BTreeMap::new();
        for (id, b64) in &cfg.keys {
            material.insert(id.clone(), decode_key(id, b64.expose())?);
        }
        for (id, path) in &cfg.key_files {
            let text =
                Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    bad(id, &format!("cannot read key file {}: {e}", path.display()))
                })?);
            if material.contains_key(id) {
                return Err(bad(id, "given both in keys and in key_files"));
            }
            material.insert(id.clone(), decode_key(id, text.trim())?);
        }
        if cfg.dev_key {
            if material.contains_key(DEV_KEY_ID) {
                return Err(bad(DEV_KEY_ID, "reserved for dev_key = true"));
            }
            material.insert(DEV_KEY_ID.into(), Zeroizing::new(DEV_KEY.to_vec()));
            tracing::warn!(
                "[secrets] dev_key = true: secrets at rest are sealed with the PUBLIC development \
                 key \"{DEV_KEY_ID}\", so anyone can open them. Never use it in production: set \
                 [secrets] active and a real key (POSGATE_SECRETS__KEYS__<ID>)"
            );
        }
        if material.is_empty() {
            return Err(SecretsError::NoKey);
        }
        let have = material.keys().cloned().collect::<Vec<_>>().join(", ");
        let active = match (&cfg.active, cfg.dev_key) {
            (Some(a), _) => a.clone(),
            (None, true) => DEV_KEY_ID.into(),
            (None, false) => return Err(SecretsError::NoActive { have }),
        };
        if !material.contains_key(&active) {
            return Err(SecretsError::ActiveMissing { id: active, have });
        }
        let mut keys = BTreeMap::new();
        for (id, key) in &material {
            keys.insert(check_id(id)?.to_string(), cipher(id, key)?);
        }
        Ok(Keyring { active, keys })
    }

    /// Id of the key new values are sealed with.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Seals `plain` for `place` with the active key.
    pub fn seal(&self, plain: &str, place: &str) -> Result<String, SecretsError> {
        let cipher = self.keys.get(&self.active).ok_or(SecretsError::Seal)?;
        let header = format!("{V1}{}:", self.active);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated(&header, place);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::Seal)?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        Ok(format!("{header}{}", STANDARD_NO_PAD.encode(body)))
    }

    /// Opens a value sealed for `place` with any key of the ring.
    pub fn open(&self, sealed: &str, place: &str) -> Result<String, SecretsError> {
        let (id, body) = parse(sealed)?;
        let cipher = self.keys.get(id).ok_or_else(|| SecretsError::UnknownKey {
            id: id.to_string(),
            have: self.keys.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        let body = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| SecretsError::Format("body is not base64"))?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Format("body too short"));
        }
        let (nonce, msg) = body.split_at(NONCE_LEN);
        let header = &sealed[..V1.len() + id.len() + 1];
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg,
                    aad: &associated(header, place),
                },
            )
            .map_err(|_| SecretsError::Decrypt { id: id.to_string() })?;
        String::from_utf8(plain).map_err(|_| SecretsError::Format("plaintext is not UTF-8"))
    }

    /// Re-seals a value under the active key (same place). Used to move values off an old key.
    pub fn rewrap(&self, sealed: &str, place: &str) -> Result<String, SecretsError> {
        let plain = Zeroizing::new(self.open(sealed, place)?);
        self.seal(&plain, place)
    }

    /// Whether `value` is sealed with a key other than the active one (so [`Keyring::rewrap`]
    /// would move it). False for values that are not sealed at all.
    pub fn is_stale(&self, value: &str) -> bool {
        key_id(value).is_some_and(|id| id != self.active)
    }
}

/// Whether `value` has the sealed form (it may still fail to open).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(V1)
}

/// The id of the key `value` is sealed with, if it has the sealed form.
pub fn key_id(value: &str) -> Option<&str> {
    parse(value).ok().map(|(id, _)| id)
}

fn parse(sealed: &str) -> Result<(&str, &str), SecretsError> {
    let rest = sealed
        .strip_prefix(V1)
        .ok_or(SecretsError::Format("unknown version"))?;
    let (id, body) = rest
        .split_once(':')
        .ok_or(SecretsError::Format("no key id"))?;
    check_id(id).map_err(|_| SecretsError::Format("malformed key id"))?;
    Ok((id, body))
}

/// Associated data: the header (format version and key id) and the place, so neither can be
/// changed without the value failing to open.
fn associated(header: &str, place: &str) -> Vec<u8> {
    [header.as_bytes(), place.as_bytes()].concat()
}

fn check_id(id: &str) -> Result<&str, SecretsError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(bad(
            id,
            "a key id is 1 to 32 lower-case letters, digits, '-' or '_'",
        ))
    }
}

/// The key's bytes from its base64. The decoder's own message is not passed on: it quotes the
/// offending character, which is key material.
fn decode_key(id: &str, b64: &str) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    let key = Zeroizing::new(
        STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64))
            .map_err(|_| {
                bad(
                    id,
                    "not base64 (generate a key with `openssl rand -base64 32`)",
                )
            })?,
    );
    Ok(key)
}

fn cipher(id: &str, key: &[u8]) -> Result<Aes256Gcm, SecretsError> {
    if key.len() != KEY_LEN {
        return Err(bad(
            id,
            &format!(
                "is {} bytes, must be 32 (generate one with `openssl rand -base64 32`)",
                key.len()
            ),
        ));
    }
    Aes256Gcm::new_from_slice(key).map_err(|_| bad(id, "unusable key"))
}

fn bad(id: &str, why: &str) -> SecretsError {
    SecretsError::BadKey {
        id: id.to_string(),
        why: why.to_string(),
    }
}

#[cfg(test)]
mod tests;
