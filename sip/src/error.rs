//! Why a package is refused.

use std::fmt;

/// Stable reason codes carried by a [`Rejection`] and reported in the
/// transfer reply (`Operation/Event/OutcomeDetail`).
pub mod code {
    /// The package is neither a zip, a tar nor a gzip-compressed tar.
    pub const UNSUPPORTED_PACKAGE: &str = "UNSUPPORTED_PACKAGE";
    /// The container itself is corrupt or unreadable.
    pub const UNREADABLE_PACKAGE: &str = "UNREADABLE_PACKAGE";
    /// An entry or a declared Uri is empty, absolute, escapes the package,
    /// uses backslashes, is too long, or is not a plain file or directory.
    pub const UNSAFE_PATH: &str = "UNSAFE_PATH";
    /// Two entries carry the same name.
    pub const DUPLICATE_ENTRY: &str = "DUPLICATE_ENTRY";
    /// Too many entries, too many bytes, or a suspicious compression ratio.
    pub const ARCHIVE_BOMB: &str = "ARCHIVE_BOMB";
    /// No manifest at the root of the package.
    pub const MISSING_MANIFEST: &str = "MISSING_MANIFEST";
    /// More than one candidate manifest at the root of the package.
    pub const MULTIPLE_MANIFESTS: &str = "MULTIPLE_MANIFESTS";
    /// The manifest is not well-formed XML or not a SEDA ArchiveTransfer.
    pub const MALFORMED_MANIFEST: &str = "MALFORMED_MANIFEST";
    /// The manifest holds a DTD or an entity declaration.
    pub const FORBIDDEN_DTD: &str = "FORBIDDEN_DTD";
    /// The manifest is in a namespace other than SEDA 2.1, 2.2 or 2.3.
    pub const UNSUPPORTED_VERSION: &str = "UNSUPPORTED_VERSION";
    /// A required element is missing or an identifier is duplicated or dangling.
    pub const INVALID_MANIFEST: &str = "INVALID_MANIFEST";
    /// A BinaryDataObject has an empty or missing MessageDigest.
    pub const EMPTY_DIGEST: &str = "EMPTY_DIGEST";
    /// A digest algorithm other than SHA-256 or SHA-512.
    pub const UNSUPPORTED_DIGEST: &str = "UNSUPPORTED_DIGEST";
    /// A BinaryDataObject has an empty or missing Uri.
    pub const EMPTY_URI: &str = "EMPTY_URI";
    /// A declared file is not in the package.
    pub const MISSING_FILE: &str = "MISSING_FILE";
    /// A file in the package is not declared by the manifest.
    pub const UNDECLARED_FILE: &str = "UNDECLARED_FILE";
    /// A file's size differs from its declared Size.
    pub const SIZE_MISMATCH: &str = "SIZE_MISMATCH";
    /// A file's digest differs from its declared MessageDigest.
    pub const BAD_DIGEST: &str = "BAD_DIGEST";
    /// Archive units reference each other in a cycle.
    pub const UNIT_CYCLE: &str = "UNIT_CYCLE";
}

/// A package refused as a whole: a stable code and a message naming the
/// culprit (object, unit or path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
