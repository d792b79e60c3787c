//! Passwords: argon2id with OWASP's current minimum parameters (19 MiB of
//! memory, 2 iterations, 1 lane), stored as PHC strings that carry their own
//! parameters, so they can be raised later without breaking stored hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;
/// Shorter passwords are refused (NIST SP 800-63B's minimum for chosen ones).
pub const MIN_CHARS: usize = 12;
/// Longer ones too: argon2 would take them, but nobody types more.
pub const MAX_CHARS: usize = 256;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("OWASP's argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password's rules, checked before it is hashed.
pub fn check(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(format!("a password needs at least {MIN_CHARS} characters"));
    }
    if n > MAX_CHARS {
        return Err(format!("a password has at most {MAX_CHARS} characters"));
    }
    Ok(())
}

/// The PHC string to store for `password`, with a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?
        .to_string())
}

/// Whether `password` matches the stored PHC string (with the parameters it
/// was hashed with). A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time a verification takes, for sign-ins with an unknown email or
/// an account without a password, so timing does not tell them apart.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not the password of anyone").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let stored = hash("correct horse battery staple").unwrap();
        let parsed = PasswordHash::new(&stored).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.version, Some(0x13));
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(params.m_cost(), 19456, "m = 19 MiB");
        assert_eq!(params.t_cost(), 2);
        assert_eq!(params.p_cost(), 1);
        assert!(parsed.salt.is_some());
        assert!(!stored.contains("correct horse"));
    }

    #[test]
    fn verifies_the_right_password_only() {
        let stored = hash("correct horse battery staple").unwrap();
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapler", &stored));
        assert!(!verify("correct horse battery staple", "not a phc string"));
        // Two hashes of one password differ (fresh salts).
        assert_ne!(stored, hash("correct horse battery staple").unwrap());
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check("short").is_err());
        assert!(check(&"x".repeat(257)).is_err());
        assert!(check("twelve chars").is_ok());
    }
}
