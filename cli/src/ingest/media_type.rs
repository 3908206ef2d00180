//! Media type guessing from the file extension.
//!
//! A deliberately small table of what town halls actually archive; anything
//! else is `application/octet-stream`, and `--media-type` overrides it. The
//! content is never sniffed: the archive records what the producer declared.

use std::path::Path;

/// Used when the extension is unknown or missing.
pub const DEFAULT: &str = "application/octet-stream";

/// Lowercase extension → IANA media type.
const TABLE: &[(&str, &str)] = &[
    // Documents
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("md", "text/markdown"),
    ("csv", "text/csv"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("xml", "application/xml"),
    ("json", "application/json"),
    ("rtf", "application/rtf"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("odp", "application/vnd.oasis.opendocument.presentation"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("eml", "message/rfc822"),
    // Images (scans)
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
    // Audio and video (council meeting recordings)
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("ogg", "audio/ogg"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    // Containers
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
];

/// The media type of `path`, from its extension (case-insensitive).
pub fn guess(path: &Path) -> &'static str {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return DEFAULT;
    };
    TABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(ext))
        .map_or(DEFAULT, |(_, media_type)| media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions() {
        assert_eq!(guess(Path::new("deliberation.pdf")), "application/pdf");
        assert_eq!(guess(Path::new("a/b/scan.TIFF")), "image/tiff");
        assert_eq!(
            guess(Path::new("Budget.Xlsx")),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(guess(Path::new("notes.txt")), "text/plain");
    }

    #[test]
    fn unknown_or_missing_extension() {
        assert_eq!(guess(Path::new("README")), DEFAULT);
        assert_eq!(guess(Path::new("archive.xyz")), DEFAULT);
        assert_eq!(guess(Path::new(".bashrc")), DEFAULT);
        assert_eq!(guess(Path::new("dir.pdf/")), "application/pdf");
    }

    #[test]
    fn table_is_lowercase_and_unique() {
        for (i, (ext, _)) in TABLE.iter().enumerate() {
            assert_eq!(*ext, ext.to_ascii_lowercase());
            assert!(TABLE[i + 1..].iter().all(|(other, _)| other != ext));
        }
    }
}
