//! What an Azure failure means to the person who must fix it, decided in
//! one place ([`classify`]) for every request of the vault: our raw writes
//! (`client`) and object_store's reads and lists (`crate::store_error::store_error`).
//!
//! What reaches a message: a sentence in plain words, the Azure error code
//! and the request id (what Azure support asks for). Never the XML body of
//! the answer, and never a URL (it may carry a SAS).
//!
//! The codes and their statuses are Azure's: "Common REST API error codes"
//! (`AuthenticationFailed` 403, `AuthorizationFailure` 403, the 401s) and
//! "Blob service error codes" (`ContainerNotFound` 404), and "SAS error
//! codes" (`AuthorizationPermissionMismatch` and the other
//! `Authorization*Mismatch` 403s). A firewall denial is `AuthorizationFailure`.

use std::error::Error as StdError;

use object_store::client::{HttpError, HttpErrorKind};
use tvault_core::ports::VaultError;

use super::retry::GiveUp;

/// The kind of failure, as the fix goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// 403 `AuthorizationFailure`: the storage firewall (a network rule)
    /// refused the address this request came from.
    Firewall,
    /// 403 `AuthenticationFailed`, or a 401: the key or SAS is wrong,
    /// expired or revoked.
    BadCredential,
    /// 403 `AuthorizationPermissionMismatch` (or another
    /// `Authorization*Mismatch`): the credential is valid but lacks the right.
    MissingRight,
    /// Any other 403.
    Refused,
    /// 404 `ContainerNotFound`.
    ContainerNotFound,
    /// No HTTP answer: the connection was refused, the name did not resolve,
    /// or nothing answered in time.
    Unreachable { timed_out: bool },
    /// The connection broke after it was made.
    Transport,
    /// The retry layer gave up early (a wait past the record's deadline).
    GaveUp,
    /// No key or SAS was configured, and no Azure identity (service
    /// principal, workload identity, Azure CLI, managed identity) gave a token.
    NoCredential,
    /// Any other answer.
    Other,
}

/// One failed request, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureFailure {
    pub kind: FailureKind,
    /// The HTTP status, if there was an answer.
    pub status: Option<u16>,
    /// `x-ms-error-code`, else the body's `<Code>`; empty if neither.
    pub code: String,
    /// `x-ms-request-id`, else the `RequestId:` line of the body's `<Message>`.
    pub request_id: String,
    /// The first line of Azure's `<Message>` (for [`FailureKind::Other`]), or
    /// the cause of a transport failure (an OS error, never a URL).
    pub detail: String,
}

/// The one classification of an Azure answer by its status and error code.
pub fn classify(status: u16, code: &str) -> FailureKind {
    match (status, code) {
        (403, "AuthorizationFailure") => FailureKind::Firewall,
        (403, "AuthenticationFailed") | (401, _) => FailureKind::BadCredential,
        (403, c) if c.starts_with("Authorization") && c.ends_with("Mismatch") => {
            FailureKind::MissingRight
        }
        (403, _) => FailureKind::Refused,
        (404, "ContainerNotFound") => FailureKind::ContainerNotFound,
        _ => FailureKind::Other,
    }
}

impl AzureFailure {
    /// A failed answer, from its status, headers and body (XML, or nothing
    /// for a HEAD).
    pub fn from_answer(
        status: u16,
        header_code: Option<&str>,
        header_request_id: Option<&str>,
        body: &str,
    ) -> Self {
        let code = header_code
            .map(str::to_string)
            .or_else(|| xml_field(body, "Code"))
            .unwrap_or_default();
        let message = xml_field(body, "Message").unwrap_or_default();
        let request_id = header_request_id
            .map(str::to_string)
            .or_else(|| request_id_in(&message))
            .unwrap_or_default();
        let mut kind = classify(status, &code);
        // Azurite answers a bad SharedKey signature with AuthorizationFailure
        // (Azure: AuthenticationFailed), with Azure's AuthenticationFailed
        // message; a real firewall denial says "This request is not
        // authorized". The message decides where there is one (a HEAD has
        // none, and stays a firewall denial).
        if kind == FailureKind::Firewall && message.starts_with("Server failed to authenticate") {
            kind = FailureKind::BadCredential;
        }
        Self {
            kind,
            status: Some(status),
            code: printable(&code),
            request_id: printable(&request_id),
            detail: printable(message.lines().next().unwrap_or_default()),
        }
    }

    /// A transport failure of our own HTTP stack.
    pub fn from_http_error(e: &HttpError) -> Self {
        if let Some(g) = find::<GiveUp>(e) {
            let kind = match g {
                GiveUp::Timeout(_) => FailureKind::Unreachable { timed_out: true },
                _ => FailureKind::GaveUp,
            };
            return Self::transport(kind, g.to_string());
        }
        let kind = match e.kind() {
            HttpErrorKind::Connect => FailureKind::Unreachable { timed_out: false },
            HttpErrorKind::Timeout => FailureKind::Unreachable { timed_out: true },
            _ => FailureKind::Transport,
        };
        Self::transport(kind, root_cause(e))
    }

    /// An object_store error of a read or list, if it came from Azure (an
    /// answer or a transport failure) and is not a plain "no such object".
    /// object_store keeps the status and body only in its error text, so
    /// they are read from there.
    pub fn from_store_error(e: &object_store::Error) -> Option<Self> {
        use object_store::Error as E;
        let chain: &(dyn StdError + 'static) = e;
        let text = chain_text(chain);
        // object_store's texts for a failed token fetch (azure/credential.rs,
        // 0.14): only asked for when no key or SAS was configured.
        const TOKEN: [&str; 5] = [
            "Error performing token request",
            "Error getting token response body",
            "Error reading federated token file",
            "'az account get-access-token' command failed",
            "Failed to parse azure cli response",
        ];
        if TOKEN.iter().any(|t| text.contains(t)) {
            let detail = match (status_in(&text), find::<HttpError>(chain)) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(h)) => root_cause(h),
                (None, None) => "no further detail".into(),
            };
            return Some(Self::transport(FailureKind::NoCredential, detail));
        }
        if let Some(h) = find::<HttpError>(chain) {
            return Some(Self::from_http_error(h));
        }
        let status = match e {
            E::PermissionDenied { .. } => 403,
            E::Unauthenticated { .. } => 401,
            E::NotFound { .. } => 404,
            _ => status_in(&text)?,
        };
        let failure = Self::from_answer(status, None, None, &text);
        // A missing blob is the vault's "not found"; a missing container is not.
        let plain_not_found = status == 404 && failure.kind != FailureKind::ContainerNotFound;
        (!plain_not_found).then_some(failure)
    }

    fn transport(kind: FailureKind, detail: String) -> Self {
        Self {
            kind,
            status: None,
            code: String::new(),
            request_id: String::new(),
            detail,
        }
    }

    /// Whether the store refused the credential or this address (the
    /// router re-reads a rotated settings secret on these).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self.kind,
            FailureKind::Firewall
                | FailureKind::BadCredential
                | FailureKind::MissingRight
                | FailureKind::Refused
        )
    }

    /// Whether a later attempt may succeed without anyone fixing anything.
    pub fn is_transient(&self) -> bool {
        match self.kind {
            // A managed identity endpoint may be briefly away: the queue tries again.
            FailureKind::Unreachable { .. }
            | FailureKind::Transport
            | FailureKind::GaveUp
            | FailureKind::NoCredential => true,
            FailureKind::Other => self
                .status
                .is_some_and(|s| s == 408 || s == 429 || s >= 500),
            _ => false,
        }
    }

    /// The vault error of `op` on `path` that carries this failure.
    pub fn into_vault_error(self, op: &'static str, path: &str) -> VaultError {
        if self.is_refusal() {
            return VaultError::Access {
                op,
                path: path.to_string(),
                message: self.to_string(),
            };
        }
        VaultError::Backend {
            op,
            path: path.to_string(),
            transient: self.is_transient(),
            message: self.to_string(),
        }
    }
}

impl std::fmt::Display for AzureFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.status.unwrap_or_default();
        match &self.kind {
            FailureKind::Firewall => write!(
                f,
                "the storage firewall refused this address (your public address is probably not on the storage account's allow-list: add it under the account's Networking settings, or run from an allowed address)"
            )?,
            FailureKind::BadCredential => write!(
                f,
                "Azure did not accept the credential: the account key or SAS is wrong, expired or revoked (renew it in AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN or the settings secret)"
            )?,
            FailureKind::MissingRight => write!(
                f,
                "the credential is valid but lacks the right for this operation (a reader SAS needs read and list, sp=rl; the writer read, create and list, sp=rcl)"
            )?,
            FailureKind::Refused => write!(
                f,
                "Azure refused access (HTTP {status}): the storage firewall, the credential or its rights"
            )?,
            FailureKind::ContainerNotFound => write!(
                f,
                "the vault's container does not exist in this storage account: check the container name in the vault URL (the infrastructure template creates it)"
            )?,
            FailureKind::Unreachable { timed_out: false } => write!(
                f,
                "could not connect to the storage endpoint ({}): check the vault URL, DNS, the network path and any proxy",
                self.detail
            )?,
            FailureKind::Unreachable { timed_out: true } => write!(
                f,
                "the storage endpoint did not answer in time ({}): check the network path, and any proxy or firewall on the way",
                self.detail
            )?,
            FailureKind::Transport => write!(
                f,
                "the connection to the storage endpoint broke ({})",
                self.detail
            )?,
            FailureKind::GaveUp => write!(f, "{}", self.detail)?,
            FailureKind::NoCredential => write!(
                f,
                "no Azure credential: none of AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN is set (nor in the settings secret), and no Azure identity gave a token ({}); looked for a service principal (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID), workload identity (AZURE_FEDERATED_TOKEN_FILE), the Azure CLI (AZURE_USE_AZURE_CLI=true), else the managed identity of this machine: set one of them",
                self.detail
            )?,
            FailureKind::Other => {
                write!(f, "Azure answered {status}")?;
                if !self.code.is_empty() {
                    write!(f, " {}", self.code)?;
                }
                if !self.detail.is_empty() {
                    write!(f, ": {}", self.detail)?;
                }
            }
        }
        // Other already names its code; the rest name code and request id here.
        if self.kind == FailureKind::Other {
            if !self.request_id.is_empty() {
                write!(f, " (request id {})", self.request_id)?;
            }
            return Ok(());
        }
        match (self.code.is_empty(), self.request_id.is_empty()) {
            (false, false) => write!(
                f,
                " (Azure error {}, request id {})",
                self.code, self.request_id
            ),
            (false, true) => write!(f, " (Azure error {})", self.code),
            (true, false) => write!(f, " (HTTP {status}, request id {})", self.request_id),
            (true, true) => Ok(()),
        }
    }
}

/// The first error of type `T` in `e`'s chain of sources.
fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(x) = cur {
        if let Some(t) = x.downcast_ref::<T>() {
            return Some(t);
        }
        cur = x.source();
    }
    None
}

/// The last cause in the chain: an OS error such as "Connection refused (os
/// error 111)". Outer layers name the URL (and its SAS), so only the root is
/// quoted, and not even that if it holds a URL.
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last: &(dyn StdError + 'static) = e;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = printable(&last.to_string());
    if text.contains("://") {
        "no further detail".into()
    } else {
        text
    }
}

/// Every message of the chain, joined: object_store keeps the answer's
/// status and body there.
fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(x) = cur {
        out.push_str(&x.to_string());
        out.push('\n');
        cur = x.source();
    }
    out
}

/// `Server returned non-2xx status code: 409 Conflict: ...` → 409.
fn status_in(text: &str) -> Option<u16> {
    let rest = &text[text.find("status code: ")? + "status code: ".len()..];
    rest.get(..3)?.parse().ok()
}

fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + len].trim().to_string())
}

/// Azure ends every `<Message>` with `RequestId:...` and `Time:...` lines.
fn request_id_in(message: &str) -> Option<String> {
    let rest = &message[message.find("RequestId:")? + "RequestId:".len()..];
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Text from outside, reduced to what is safe on one terminal line and in a log.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body Azure sends with a firewall denial (shape: "Status and error
    /// codes", Azure Storage REST docs; the message is Azure's for the code).
    const FIREWALL: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationFailure</Code><Message>This request is not authorized to perform this operation.\nRequestId:4d6b1c1e-f01e-0012-7c3a-1a2b3c000000\nTime:2026-11-30T10:00:00.0000000Z</Message></Error>";

    #[test]
    fn codes_are_classified_once() {
        assert_eq!(classify(403, "AuthorizationFailure"), FailureKind::Firewall);
        assert_eq!(
            classify(403, "AuthenticationFailed"),
            FailureKind::BadCredential
        );
        assert_eq!(
            classify(401, "NoAuthenticationInformation"),
            FailureKind::BadCredential
        );
        assert_eq!(
            classify(403, "AuthorizationPermissionMismatch"),
            FailureKind::MissingRight
        );
        assert_eq!(
            classify(403, "AuthorizationSourceIPMismatch"),
            FailureKind::MissingRight
        );
        assert_eq!(classify(403, ""), FailureKind::Refused);
        assert_eq!(
            classify(404, "ContainerNotFound"),
            FailureKind::ContainerNotFound
        );
        assert_eq!(classify(404, "BlobNotFound"), FailureKind::Other);
    }

    #[test]
    fn a_firewall_denial_reads_as_plain_words_with_code_and_request_id() {
        let f = AzureFailure::from_answer(403, None, None, FIREWALL);
        assert_eq!(f.kind, FailureKind::Firewall);
        let msg = f.to_string();
        assert!(
            msg.contains("storage firewall refused this address"),
            "{msg}"
        );
        assert!(
            msg.contains(
                "(Azure error AuthorizationFailure, request id 4d6b1c1e-f01e-0012-7c3a-1a2b3c000000)"
            ),
            "{msg}"
        );
        assert!(!msg.contains('<') && !msg.contains("Time:"), "{msg}");
    }

    #[test]
    fn headers_win_over_the_body_and_a_head_answer_has_only_headers() {
        let f =
            AzureFailure::from_answer(403, Some("AuthenticationFailed"), Some("rid-1"), FIREWALL);
        assert_eq!(f.kind, FailureKind::BadCredential);
        assert_eq!(f.request_id, "rid-1");
        let head = AzureFailure::from_answer(404, Some("ContainerNotFound"), Some("rid-2"), "");
        assert_eq!(head.kind, FailureKind::ContainerNotFound);
        assert!(
            head.to_string()
                .ends_with("(Azure error ContainerNotFound, request id rid-2)")
        );
    }

    #[test]
    fn azurites_authorization_failure_for_a_bad_signature_is_a_bad_credential() {
        let azurite = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationFailure</Code><Message>Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.\nRequestId:r-1\nTime:2026-12-02T03:00:00.000Z</Message></Error>";
        let f = AzureFailure::from_answer(403, None, None, azurite);
        assert_eq!(f.kind, FailureKind::BadCredential);
        assert_eq!(
            AzureFailure::from_answer(403, None, None, FIREWALL).kind,
            FailureKind::Firewall
        );
    }

    #[test]
    fn hostile_bodies_never_panic_nor_reach_the_message_raw() {
        for body in [
            "",
            "<Code>",
            "<Code></Code><Message>RequestId:</Message>",
            "<Message>\u{1b}[2J RequestId:\u{1b}x</Message>",
            "status code: 9",
            "status code: \u{e9}\u{e9}\u{e9}",
        ] {
            let f = AzureFailure::from_answer(500, None, None, body);
            assert!(!f.to_string().contains('\u{1b}'), "{body:?}");
            let _ = status_in(body);
        }
        assert_eq!(
            status_in("Server returned non-2xx status code: 403 Forbidden: x"),
            Some(403)
        );
    }
}
