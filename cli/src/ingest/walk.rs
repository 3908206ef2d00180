//! Expanding `ingest` arguments into the list of files to archive.
//!
//! The order is deterministic (entries sorted by name, depth first), so two
//! runs over the same tree upload and report in the same order. Symbolic
//! links found inside directories are not followed — an archive must not
//! wander out of the tree it was given, nor loop — and, like special files
//! and unreadable directories, they are reported as failures: nothing is
//! skipped silently. A symbolic link named on the command line is followed,
//! as the user asked for it explicitly (the `find -H` convention).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// Suffix of seal files written by `--seal-dir`.
pub const SEAL_SUFFIX: &str = ".tlog-proof";

/// A regular file to archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The path as reported to the user (argument joined with the relative path).
    pub path: PathBuf,
    /// Where its seal goes, relative to `--seal-dir`, suffix included:
    /// `<basename of argument>[/<path relative to argument>].tlog-proof`.
    pub seal_name: PathBuf,
    /// Size when walked, for the progress bar only (the upload measures).
    pub size: u64,
}

/// Something that was named or found but cannot be archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkFailure {
    pub path: PathBuf,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<InputFile>,
    pub failures: Vec<WalkFailure>,
}

/// Walks every argument in order.
pub fn collect(args: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs::default();
    for arg in args {
        // Follows a symbolic link given as an argument (see module docs).
        match fs::metadata(arg) {
            Err(e) => inputs.fail(arg, format!("cannot access: {e}")),
            Ok(meta) if meta.is_dir() => walk_dir(arg, &PathBuf::from(base_name(arg)), &mut inputs),
            Ok(meta) if meta.is_file() => inputs.files.push(InputFile {
                path: arg.clone(),
                seal_name: with_seal_suffix(Path::new(&base_name(arg))),
                size: meta.len(),
            }),
            Ok(_) => inputs.fail(arg, "not a regular file or directory".into()),
        }
    }
    inputs
}

/// Recursively adds the content of `dir`; `seal_prefix` is the seal path of
/// `dir` itself relative to `--seal-dir`.
fn walk_dir(dir: &Path, seal_prefix: &Path, inputs: &mut Inputs) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return inputs.fail(dir, format!("cannot read directory: {e}")),
    };
    let mut children = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => children.push(entry),
            Err(e) => inputs.fail(dir, format!("cannot read directory: {e}")),
        }
    }
    // Byte order of names: locale-independent, the same on every machine.
    children.sort_by_key(|entry| entry.file_name());

    for entry in children {
        let path = entry.path();
        let seal_path = seal_prefix.join(entry.file_name());
        // `DirEntry::file_type` and `DirEntry::metadata` do not follow links.
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                inputs.fail(&path, format!("cannot access: {e}"));
                continue;
            }
        };
        if file_type.is_symlink() {
            inputs.fail(&path, "symbolic link, not followed".into());
        } else if file_type.is_dir() {
            walk_dir(&path, &seal_path, inputs);
        } else if file_type.is_file() {
            match entry.metadata() {
                Ok(meta) => inputs.files.push(InputFile {
                    path,
                    seal_name: with_seal_suffix(&seal_path),
                    size: meta.len(),
                }),
                Err(e) => inputs.fail(&path, format!("cannot access: {e}")),
            }
        } else {
            inputs.fail(&path, "not a regular file (device, socket or pipe)".into());
        }
    }
}

impl Inputs {
    fn fail(&mut self, path: &Path, error: String) {
        self.failures.push(WalkFailure {
            path: path.to_owned(),
            error,
        });
    }
}

/// The name an argument goes by under `--seal-dir`. `.`, `..` and paths
/// ending in them have no name of their own: use the directory's real name.
pub fn base_name(path: &Path) -> OsString {
    if let Some(name) = path.file_name() {
        return name.to_owned();
    }
    fs::canonicalize(path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_owned()))
        // Only the filesystem root has no name at all.
        .unwrap_or_else(|| OsString::from("root"))
}

/// `a/b.pdf` → `a/b.pdf.tlog-proof`: the suffix is appended, never replaces
/// the extension, so `x.pdf` and `x.odt` get distinct seals.
pub fn with_seal_suffix(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(SEAL_SUFFIX);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, content: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    #[test]
    fn directory_walk_is_sorted_depth_first() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("deliberations");
        // Created in scrambled order on purpose.
        touch(&root.join("c.pdf"), b"ccc");
        touch(&root.join("a/z.pdf"), b"z");
        touch(&root.join("b.txt"), b"");
        touch(&root.join("a/b/deep.odt"), b"deep");
        touch(&root.join("A.pdf"), b"upper");
        fs::create_dir_all(root.join("empty")).unwrap();

        let inputs = collect(std::slice::from_ref(&root));
        assert!(inputs.failures.is_empty(), "{:?}", inputs.failures);
        let rel: Vec<String> = inputs
            .files
            .iter()
            .map(|f| f.path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["A.pdf", "a/b/deep.odt", "a/z.pdf", "b.txt", "c.pdf"]);
        let sizes: Vec<u64> = inputs.files.iter().map(|f| f.size).collect();
        assert_eq!(sizes, [5, 4, 1, 0, 3]);
    }

    #[test]
    fn seal_names_mirror_the_input_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("conseil");
        touch(&root.join("2026/pv.pdf"), b"pv");
        let single = tmp.path().join("elsewhere/arrete.pdf");
        touch(&single, b"arrete");

        let inputs = collect(&[root.clone(), single.clone()]);
        let names: Vec<PathBuf> = inputs.files.iter().map(|f| f.seal_name.clone()).collect();
        assert_eq!(
            names,
            [
                PathBuf::from("conseil/2026/pv.pdf.tlog-proof"),
                PathBuf::from("arrete.pdf.tlog-proof"),
            ]
        );
        // A trailing slash or "." does not change the directory's name.
        let slash = PathBuf::from(format!("{}/", root.display()));
        assert_eq!(
            collect(&[slash]).files[0].seal_name,
            PathBuf::from("conseil/2026/pv.pdf.tlog-proof")
        );
        assert_eq!(
            collect(&[root.join(".")]).files[0].seal_name,
            PathBuf::from("conseil/2026/pv.pdf.tlog-proof")
        );
        assert_eq!(base_name(&root.join("2026/..")), OsString::from("conseil"));
        assert_eq!(base_name(Path::new("/")), OsString::from("root"));
    }

    #[test]
    fn suffix_is_appended() {
        assert_eq!(
            with_seal_suffix(Path::new("a/b.pdf")),
            PathBuf::from("a/b.pdf.tlog-proof")
        );
        assert_eq!(
            with_seal_suffix(Path::new("README")),
            PathBuf::from("README.tlog-proof")
        );
    }

    #[test]
    fn missing_paths_and_links_are_reported_not_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("d");
        touch(&root.join("real.pdf"), b"x");
        std::os::unix::fs::symlink(root.join("real.pdf"), root.join("link.pdf")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("loop")).unwrap();
        let missing = tmp.path().join("missing.pdf");

        let inputs = collect(&[root.clone(), missing.clone(), root.join("link.pdf")]);
        let files: Vec<&Path> = inputs.files.iter().map(|f| f.path.as_path()).collect();
        // The link named explicitly is followed; the ones inside are not.
        assert_eq!(files, [root.join("real.pdf"), root.join("link.pdf")]);
        let failed: Vec<&Path> = inputs.failures.iter().map(|f| f.path.as_path()).collect();
        assert_eq!(failed, [root.join("link.pdf"), root.join("loop"), missing]);
        assert!(inputs.failures[0].error.contains("symbolic link"));
    }
}
