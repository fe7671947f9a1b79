// SPDX-License-Identifier: MPL-2.0
//! What differs between the GStreamer versions this plugin runs on (1.22 of Debian 12, 1.26 of
//! Debian 13), decided from the version running ([`running`], i.e. `gst::version()`), never from
//! the one built against: one binary serves both. Each fact is a plain function of a
//! [`GstVersion`], so every rule is unit-tested for both versions without either installed.
//!
//! 1.24 has not been measured; where a fact was seen on 1.26 and not on 1.22 it is taken to hold
//! from 1.24 on when that is the side on which the bin stays correct (a workaround: at most one
//! thread slower), and from 1.26 on when the fact opens a native path (1.24 keeps 1.22's way).

/// A GStreamer release, major and minor (the micro release does not change behaviour here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GstVersion {
    pub major: u32,
    pub minor: u32,
}

impl GstVersion {
    pub const fn new(major: u32, minor: u32) -> GstVersion {
        GstVersion { major, minor }
    }

    /// Development and pre-releases (odd minor) behave as the release they lead to.
    fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor.saturating_sub(1))
    }
}

impl std::fmt::Display for GstVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The GStreamer library this process runs with.
pub fn running() -> GstVersion {
    let (major, minor, _, _) = gst::version();
    GstVersion::new(major, minor)
}

/// `bayer2rgb` sizes its output buffers by the Bayer input (3072 bytes for a 64x48 ARGB frame of
/// 12288) when downstream offers no buffer pool (measured on 1.26.2; 1.22 sizes them right):
/// the element after it then fails (`rgb2bayer`: "size 3072 is not a multiple of unit size
/// 12288") or reads past the frame. Offering a pool of the right size in its allocation query
/// sidesteps it.
pub fn bayer2rgb_needs_a_pool(v: GstVersion) -> bool {
    v.at_least(1, 24)
}

/// `videoconvert` with several threads gives another picture than with one when it resamples
/// chroma (e.g. `chroma-site=jpeg` → `mpeg2`) on 1.26.2; on 1.22 every thread count gives the
/// same bytes. Where this holds, "bit-exact with `videoconvert`" (whose default is one thread)
/// holds only with one thread.
pub fn videoconvert_threads_change_the_picture(v: GstVersion) -> bool {
    v.at_least(1, 24)
}

/// Whether `glcolorconvert` converts YUV format `from` to YUV format `to` directly. GStreamer
/// 1.22 converts YUV only to and from RGB (a YUV→YUV GL chain goes through RGBA, which clamps
/// what lies outside RGB); 1.26 converts between the planar and packed 4:2:x formats of
/// [`crate::formats::GL_DIRECT_YUV_FORMATS`]. 1.24 is not measured and gets the RGBA hop, which works there.
pub fn glcolorconvert_converts_yuv_directly(v: GstVersion, from: &str, to: &str) -> bool {
    v.at_least(1, 26)
        && from != to
        && crate::formats::GL_DIRECT_YUV_FORMATS.contains(&from)
        && crate::formats::GL_DIRECT_YUV_FORMATS.contains(&to)
}

/// Whether `glcolorconvert` reads and writes YUV in the matrix and range the caps say. 1.22
/// reads YUV as BT.709 only for exactly `bt709` and as BT.601 limited range otherwise, and
/// writes YUV from RGB as BT.601 limited range whatever the caps say; 1.26.2 follows the caps
/// (bt601, bt709, bt2020 and full range, read into RGBA and written from it, within 1 of
/// `videoconvert` on the colour bars; measured with Mesa llvmpipe). 1.24 is not measured: the
/// bin keeps 1.22's workaround there (software for such streams, which is correct).
pub fn glcolorconvert_follows_colorimetry(v: GstVersion) -> bool {
    v.at_least(1, 26)
}

/// Whether the memory-path planner names CUDA memory ([`crate::path::Path::CudaMemory`]) for a
/// consumer that takes nothing else: from 1.26, the version the CUDA-memory path is planned for
/// (its nvcodec is the one this project measures). No bin builds that path yet; on older
/// versions the planner does not name it at all.
pub fn plans_cuda_memory(v: GstVersion) -> bool {
    v.at_least(1, 26)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_22: GstVersion = GstVersion::new(1, 22);
    const V1_26: GstVersion = GstVersion::new(1, 26);

    #[test]
    fn versions_order_and_print() {
        assert!(V1_22 < V1_26);
        assert_eq!(V1_26.to_string(), "1.26");
        // 1.25 is the development series of 1.26.
        assert!(GstVersion::new(1, 25).at_least(1, 26));
        assert!(!GstVersion::new(1, 23).at_least(1, 26));
        assert!(GstVersion::new(2, 0).at_least(1, 26));
    }

    #[test]
    fn the_1_26_workarounds_are_off_on_1_22() {
        for fact in [
            bayer2rgb_needs_a_pool,
            videoconvert_threads_change_the_picture,
        ] {
            assert!(!fact(V1_22));
            assert!(fact(GstVersion::new(1, 24)));
            assert!(fact(V1_26));
        }
    }

    #[test]
    fn glcolorconvert_gained_yuv_to_yuv_and_colorimetry_in_1_26() {
        for v in [V1_22, GstVersion::new(1, 24)] {
            assert!(!glcolorconvert_follows_colorimetry(v));
            assert!(!glcolorconvert_converts_yuv_directly(v, "I420", "Y444"));
        }
        assert!(glcolorconvert_follows_colorimetry(V1_26));
        for (from, to) in [
            ("I420", "Y42B"),
            ("I420", "YUY2"),
            ("YUY2", "I420"),
            ("UYVY", "Y444"),
        ] {
            assert!(
                glcolorconvert_converts_yuv_directly(V1_26, from, to),
                "{from}->{to}"
            );
        }
        // Semi-planar and YV12 still go through RGB; a format "to itself" is no conversion.
        for (from, to) in [
            ("I420", "NV12"),
            ("NV12", "I420"),
            ("YV12", "I420"),
            ("I420", "I420"),
        ] {
            assert!(
                !glcolorconvert_converts_yuv_directly(V1_26, from, to),
                "{from}->{to}"
            );
        }
    }

    #[test]
    fn the_running_version_is_gstreamers() {
        gst::init().unwrap();
        let (major, minor, _, _) = gst::version();
        assert_eq!(running(), GstVersion::new(major, minor));
    }
}
