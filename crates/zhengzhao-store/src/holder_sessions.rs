//! Holders signed in through the region's identity provider (OpenID
//! Connect): the sign-ins under way and the sessions they start.

/// A sign-in sent to the identity provider and not yet answered. Taken
/// (deleted) by the first callback that names its state, so an answer is
/// used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderSignIn {
    /// SM3 of the `state` sent to the provider (the browser also holds the
    /// state in a cookie, which the callback must bring back).
    pub state_hash: Vec<u8>,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier (RFC 7636) the code is redeemed with.
    pub pkce_verifier: String,
    /// Where the browser goes once signed in: a path on this library.
    pub return_to: String,
    pub created_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
}

/// A holder's session, started by a verified ID token. Holds no resident
/// id in clear: the holder is kept as its storage key (a blind index for a
/// natural person) and as the audit log shows it (masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderSession {
    /// SM3 of the session cookie value.
    pub hash: Vec<u8>,
    /// Names the session in the audit log (`holder:…@session:<id>`).
    pub id: uuid::Uuid,
    /// `uscc` or `resident_id`.
    pub id_type: String,
    pub holder_key: String,
    pub holder_shown: String,
    /// The identity provider, and SM3 of the subject (`sub`) it named.
    pub issuer: String,
    pub subject_sm3: String,
    /// Sent back with every unsafe request (`X-CSRF-Token`).
    pub csrf_token: String,
    pub created_at: jiff::Timestamp,
    pub last_seen_at: jiff::Timestamp,
    /// The absolute end, whatever the activity.
    pub expires_at: jiff::Timestamp,
    pub client_addr: Option<String>,
    pub ended_at: Option<jiff::Timestamp>,
}
