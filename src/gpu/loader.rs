// SPDX-License-Identifier: MPL-2.0
//! Opening the CUDA driver exactly as GStreamer's nvcodec does, and spotting the `libcuda.so`
//! that would have fooled a looser loader.
//!
//! nvcodec 1.22 (`gst-libs/gst/cuda/gstcudaloader.c`) opens `libcuda.so.1` and nothing else, with
//! `g_module_open (…, G_MODULE_BIND_LAZY)` (`RTLD_LAZY | RTLD_GLOBAL`). Whatever that name gives
//! is the driver the encoder will use, so it is the only name this crate opens. A generic loader
//! (cudarc's, for one) tries the unversioned `libcuda.so` first; the CUDA toolkit installs a
//! link-time stub under that name (`…/lib64/stubs/libcuda.so`) that answers
//! `CUDA_ERROR_STUB_LIBRARY` to every call, and Docker images often put its folder on
//! `LD_LIBRARY_PATH`. Worse, the stub's soname is `libcuda.so.1`: once anything in the process
//! has loaded it, the dynamic loader hands it out for `libcuda.so.1` too. So a `libcuda.so` that
//! is not the driver is found by looking at files, never by loading it, and reported (by
//! `strom-doctor` and in the interop reason) without deciding anything.

use std::ffi::{CStr, c_void};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The soname the driver installs and nvcodec opens.
pub(crate) const LIBCUDA_SONAME: &str = "libcuda.so.1";
/// The development name: a symlink to the driver, or the CUDA toolkit's link-time stub.
pub(crate) const LIBCUDA_DEV_NAME: &str = "libcuda.so";
/// Below this size a `libcuda.so` cannot be a driver (the real one is tens of MiB; the toolkit's
/// stub is tens of KiB).
const STUB_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Why `libcuda.so.1` could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The dynamic loader finds no file of that name: no driver, or none mounted.
    NotFound,
    /// A file was found but does not load (wrong architecture, missing dependency, ...).
    Unloadable(String),
}

/// Opens `libcuda.so.1` once per process, as nvcodec does, and keeps it open for good (a driver
/// library is never safe to unload).
pub(crate) fn open_libcuda() -> Result<&'static libloading::Library, OpenError> {
    static LIB: OnceLock<Result<libloading::Library, OpenError>> = OnceLock::new();
    LIB.get_or_init(|| {
        use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_LAZY};
        // SAFETY: the driver's initialisers run as they would when nvcodec opens it.
        unsafe { Library::open(Some(LIBCUDA_SONAME), RTLD_LAZY | RTLD_GLOBAL) }
            .map(libloading::Library::from)
            .map_err(|err| classify_open_error(&loader_message(&err)))
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn classify_open_error(message: &str) -> OpenError {
    // A missing dependency of the driver names that dependency first, not the driver.
    let about_the_driver = message.starts_with(LIBCUDA_SONAME);
    if about_the_driver && message.contains("No such file or directory") {
        OpenError::NotFound
    } else {
        OpenError::Unloadable(message.to_owned())
    }
}

/// The dynamic loader's own words (`libloading` keeps them in the error's source).
fn loader_message(err: &libloading::Error) -> String {
    use std::error::Error;
    err.source()
        .map_or_else(|| err.to_string(), |source| source.to_string())
}

/// The file holding `address`, from the dynamic linker.
pub(crate) fn library_path(address: *const c_void) -> Option<PathBuf> {
    // SAFETY: dladdr only reads loader tables; `info` is plain data it fills in.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::dladdr(address, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(name.to_string_lossy().into_owned()))
}

/// A `libcuda.so` on the loader path that is not the driver nvcodec uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShadowLibrary {
    /// Where the loader would find `libcuda.so`.
    pub(crate) path: PathBuf,
    /// In a `stubs` folder or far too small for a driver: the CUDA toolkit's link-time stub.
    pub(crate) looks_like_stub: bool,
}

impl ShadowLibrary {
    /// One clause for reasons and doctor rows.
    pub(crate) fn describe(&self, driver: Option<&Path>) -> String {
        let what = if self.looks_like_stub {
            "the CUDA toolkit's link-time stub, which answers CUDA_ERROR_STUB_LIBRARY to every call"
        } else {
            "a library other than the driver"
        };
        let ignored = match driver {
            Some(driver) => format!(
                "ignored: like nvcodec, this plugin opens only {LIBCUDA_SONAME} ({})",
                driver.display()
            ),
            None => format!("ignored: like nvcodec, this plugin opens only {LIBCUDA_SONAME}"),
        };
        format!(
            "{LIBCUDA_DEV_NAME} on the loader path is {} ({what}); {ignored}",
            self.path.display()
        )
    }
}

/// What the file system says about one candidate file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileFacts {
    /// With every symlink resolved.
    pub(crate) canonical: PathBuf,
    pub(crate) size: u64,
}

fn file_facts(path: &Path) -> Option<FileFacts> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&canonical).ok()?;
    meta.is_file().then_some(FileFacts {
        canonical,
        size: meta.len(),
    })
}

/// The `libcuda.so` the dynamic loader would find, when it is not the same file as `driver` (the
/// `libcuda.so.1` in use, if any).
pub(crate) fn shadowing_libcuda(driver: Option<&Path>) -> Option<ShadowLibrary> {
    shadowing_from(&loader_search_dirs(), driver, file_facts)
}

/// [`shadowing_libcuda`] over `dirs` (in search order) with `facts` standing in for the file
/// system.
pub(crate) fn shadowing_from(
    dirs: &[PathBuf],
    driver: Option<&Path>,
    facts: impl Fn(&Path) -> Option<FileFacts>,
) -> Option<ShadowLibrary> {
    let (path, found) = dirs.iter().find_map(|dir| {
        let candidate = dir.join(LIBCUDA_DEV_NAME);
        facts(&candidate).map(|f| (candidate, f))
    })?;
    let driver = driver.and_then(&facts);
    if driver.is_some_and(|d| d.canonical == found.canonical) {
        return None;
    }
    let in_stubs_folder = found
        .canonical
        .components()
        .chain(path.components())
        .any(|c| c.as_os_str() == "stubs");
    Some(ShadowLibrary {
        looks_like_stub: in_stubs_folder || found.size < STUB_MAX_BYTES,
        path,
    })
}

/// Where `dlopen` looks for a bare library name, in order, as far as it can be told without the
/// loader: `LD_LIBRARY_PATH`, the folders `ldconfig` caches (`/etc/ld.so.conf` and its
/// includes), then the trusted defaults. (RUNPATHs and hardware-capability subfolders are left
/// out: neither is where CUDA libraries are put.)
pub(crate) fn loader_search_dirs() -> Vec<PathBuf> {
    let mut dirs = split_library_path(std::env::var("LD_LIBRARY_PATH").ok().as_deref());
    dirs.extend(ld_so_conf_dirs(Path::new("/etc/ld.so.conf"), 0));
    dirs.extend(default_dirs());
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// `LD_LIBRARY_PATH`'s folders (`:` or `;` separated; an empty entry is the current folder).
pub(crate) fn split_library_path(value: Option<&str>) -> Vec<PathBuf> {
    match value.filter(|v| !v.is_empty()) {
        None => Vec::new(),
        Some(v) => v
            .split([':', ';'])
            .map(|d| PathBuf::from(if d.is_empty() { "." } else { d }))
            .collect(),
    }
}

/// The folders an `ld.so.conf` names, following `include` lines (globs in the file name only).
fn ld_so_conf_dirs(conf: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(conf) else {
        return Vec::new();
    };
    if depth > 4 {
        return Vec::new();
    }
    let mut dirs = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include ") {
            for file in glob_file_names(Path::new(pattern.trim())) {
                dirs.extend(ld_so_conf_dirs(&file, depth + 1));
            }
        } else if line.starts_with('/') {
            dirs.push(PathBuf::from(line));
        }
    }
    dirs
}

/// Files matching `pattern`, whose last component may hold one `*`.
fn glob_file_names(pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return vec![pattern.to_path_buf()];
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .map(|n| n.to_string_lossy())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn default_dirs() -> Vec<PathBuf> {
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    [
        format!("/lib/{multiarch}"),
        format!("/usr/lib/{multiarch}"),
        "/lib64".into(),
        "/usr/lib64".into(),
        "/lib".into(),
        "/usr/lib".into(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(table: &'a [(&'a str, &'a str, u64)]) -> impl Fn(&Path) -> Option<FileFacts> + 'a {
        move |p: &Path| {
            table
                .iter()
                .find(|(path, _, _)| Path::new(path) == p)
                .map(|(_, canonical, size)| FileFacts {
                    canonical: PathBuf::from(canonical),
                    size: *size,
                })
        }
    }

    #[test]
    fn the_driver_own_dev_symlink_is_not_a_shadow() {
        let table = [
            (
                "/usr/lib/x86_64-linux-gnu/libcuda.so",
                "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
                40 << 20,
            ),
            (
                "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
                40 << 20,
            ),
        ];
        let dirs = [PathBuf::from("/usr/lib/x86_64-linux-gnu")];
        let driver = Path::new("/usr/lib/x86_64-linux-gnu/libcuda.so.1");
        assert_eq!(shadowing_from(&dirs, Some(driver), facts(&table)), None);
    }

    #[test]
    fn the_toolkit_stub_first_on_the_path_is_found_and_named() {
        let table = [
            (
                "/usr/local/cuda/lib64/stubs/libcuda.so",
                "/usr/local/cuda-12.4/targets/x86_64-linux/lib/stubs/libcuda.so",
                60 << 10,
            ),
            (
                "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
                40 << 20,
            ),
        ];
        let dirs = [
            PathBuf::from("/usr/local/cuda/lib64/stubs"),
            PathBuf::from("/usr/lib/x86_64-linux-gnu"),
        ];
        let driver = Path::new("/usr/lib/x86_64-linux-gnu/libcuda.so.1");
        let shadow = shadowing_from(&dirs, Some(driver), facts(&table)).expect("found");
        assert_eq!(
            shadow.path,
            PathBuf::from("/usr/local/cuda/lib64/stubs/libcuda.so")
        );
        assert!(shadow.looks_like_stub);
        let text = shadow.describe(Some(driver));
        assert!(text.contains("CUDA_ERROR_STUB_LIBRARY"), "{text}");
        assert!(text.contains("opens only libcuda.so.1"), "{text}");
    }

    #[test]
    fn a_large_other_library_is_reported_but_not_called_a_stub() {
        let table = [("/opt/old/libcuda.so", "/opt/old/libcuda.so.470", 30 << 20)];
        let dirs = [PathBuf::from("/opt/old")];
        let shadow = shadowing_from(&dirs, None, facts(&table)).expect("found");
        assert!(!shadow.looks_like_stub);
        assert!(shadow.describe(None).contains("other than the driver"));
    }

    #[test]
    fn nothing_named_libcuda_so_is_nothing_to_report() {
        let dirs = [PathBuf::from("/usr/lib")];
        assert_eq!(shadowing_from(&dirs, None, facts(&[])), None);
    }

    #[test]
    fn library_path_splits_like_the_loader() {
        assert!(split_library_path(None).is_empty());
        assert!(split_library_path(Some("")).is_empty());
        assert_eq!(
            split_library_path(Some("/a:/b;/c")),
            [PathBuf::from("/a"), "/b".into(), "/c".into()]
        );
        assert_eq!(
            split_library_path(Some("/a::/b")),
            [PathBuf::from("/a"), ".".into(), "/b".into()]
        );
    }

    #[test]
    fn open_errors_are_classified() {
        assert_eq!(
            classify_open_error(
                "libcuda.so.1: cannot open shared object file: No such file or directory"
            ),
            OpenError::NotFound
        );
        assert!(matches!(
            classify_open_error("libcuda.so.1: wrong ELF class: ELFCLASS32"),
            OpenError::Unloadable(_)
        ));
        assert!(matches!(
            classify_open_error(
                "libnvidia-ptxjitcompiler.so.1: cannot open shared object file: No such file or directory"
            ),
            OpenError::Unloadable(_)
        ));
    }
}
