// SPDX-License-Identifier: MPL-2.0
//! Whether a hardware encoder that failed gets a second try on system memory before the next
//! candidate: NVENC on consumer GPUs refuses a session beyond its limit
//! (`nvEncOpenEncodeSessionEx` returns `NV_ENC_ERR_OUT_OF_MEMORY`, 10; GStreamer's nvcodec
//! logs "Failed to open session" / "Failed to create NVENC encoder session" and posts
//! "Failed to open encoder"), and some hardware encoders refuse GL memory (caps refused,
//! not-negotiated on `memory:GLMemory`) although they encode system memory. Software encoding is
//! what the next candidate costs; the same hardware encoder fed through `videoconvert` (no GL
//! interop holding a context of its own) is cheaper, so it is tried once first, as OBS re-opens
//! its hardware encoder before giving up on it. A refused session is retried from any path (the
//! failed session is closed first, which may be the one over the limit); a refusal of the
//! memory only after the GL path.

/// The failed attempt, in plain terms.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt<'a> {
    /// The candidate is a hardware encoder.
    pub hardware: bool,
    /// The internal converter's path when it failed: "gl", "software", or "" (not decided).
    pub path: &'a str,
    /// This attempt already was the retry on system memory.
    pub on_system_memory: bool,
    /// Why it failed (the summarised error, or the refusal).
    pub why: &'a str,
}

/// What comes after a failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// The same encoder again, fed system memory; says why.
    SameOnSystemMemory(String),
    NextCandidate,
}

/// Texts of a session the driver refused (nvcodec's, and NVENC's status names).
const SESSION_LIMIT: [&str; 4] = [
    "openencodesessionex",
    "nv_enc_err_out_of_memory",
    "failed to open session",
    "failed to open encoder",
];

/// Texts of a refusal of the memory offered.
const MEMORY_REFUSED: [&str; 3] = ["glmemory", "not-negotiated", "refused the caps"];

pub(super) fn after_failure(attempt: &Attempt<'_>) -> Next {
    if !attempt.hardware || attempt.on_system_memory {
        return Next::NextCandidate;
    }
    let why = attempt.why.to_lowercase();
    let said = |texts: &[&str]| texts.iter().any(|t| why.contains(&t.to_lowercase()));
    if said(&SESSION_LIMIT) {
        return Next::SameOnSystemMemory(format!("session refused ({})", attempt.why));
    }
    if attempt.path == "gl" && said(&MEMORY_REFUSED) {
        return Next::SameOnSystemMemory(format!("GL memory refused ({})", attempt.why));
    }
    Next::NextCandidate
}

/// What the bin says when it retries `factory` on system memory.
pub(super) fn retried(factory: &str, reason: &str) -> String {
    format!("retried {factory} on system memory: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt<'a>(path: &'a str, why: &'a str) -> Attempt<'a> {
        Attempt {
            hardware: true,
            path,
            on_system_memory: false,
            why,
        }
    }

    #[test]
    fn a_session_limit_is_retried_once_on_system_memory() {
        let why =
            "Failed to open encoder (NvEncOpenEncodeSessionEx: NV_ENC_ERR_OUT_OF_MEMORY (10))";
        // Open failed (no path yet), on GL memory, or already on system memory: a second
        // session, opened once the first is closed, may be granted.
        for path in ["", "gl", "software"] {
            assert!(matches!(
                after_failure(&attempt(path, why)),
                Next::SameOnSystemMemory(reason) if reason.contains("session refused")
            ));
        }
        // Once only, and never for a software encoder; a session lost mid-stream is no limit.
        assert_eq!(
            after_failure(&attempt(
                "",
                "NvEncEncodePicture failed: the encode session was lost"
            )),
            Next::NextCandidate
        );
        let again = Attempt {
            on_system_memory: true,
            ..attempt("", why)
        };
        assert_eq!(after_failure(&again), Next::NextCandidate);
        let software = Attempt {
            hardware: false,
            ..attempt("", why)
        };
        assert_eq!(after_failure(&software), Next::NextCandidate);
    }

    #[test]
    fn gl_memory_refused_is_retried_on_system_memory_only_after_the_gl_path() {
        let why = "refused the caps video/x-raw(memory:GLMemory), format=(string)NV12";
        assert!(matches!(
            after_failure(&attempt("gl", why)),
            Next::SameOnSystemMemory(reason) if reason.starts_with("GL memory refused")
        ));
        assert_eq!(after_failure(&attempt("", why)), Next::NextCandidate);
        assert_eq!(
            after_failure(&attempt("software", why)),
            Next::NextCandidate
        );
        assert_eq!(
            after_failure(&attempt("gl", "NvEncEncodePicture failed: device lost")),
            Next::NextCandidate
        );
        assert_eq!(
            retried("nvh264enc", "session refused (x)"),
            "retried nvh264enc on system memory: session refused (x)"
        );
    }
}
