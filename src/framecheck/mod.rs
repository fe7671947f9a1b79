// SPDX-License-Identifier: MPL-2.0
//! Whether a raw video buffer holds the frame it claims to hold, checked before anything maps
//! or converts it.
//!
//! GStreamer maps a frame without checking it against its memory: `gst_video_frame_map` takes a
//! `GstVideoMeta`'s offsets and strides as they are and only looks up the memory holding each
//! plane's first byte, so a meta that lies (a stride past the end, an offset near it, a buffer
//! shorter than the caps) makes `videoconvert`, `glupload`, `compositor` and our own converter
//! read past the memory. Every element checks here first, at its sink pad, and drops a buffer
//! that fails with a warning naming the cause (see [`buffer`] for the GStreamer side).
//!
//! The rules are those of the mapping itself: without a meta the buffer holds at least the caps'
//! frame size; with one, the meta's format and plane count are the caps', its frame is at least
//! the caps' size (GStreamer refuses a smaller one), and each plane — offset + stride × rows of
//! the meta's frame — lies inside the one memory block its offset falls in (the default map
//! function maps only that block), with a stride of at least a row. Where samples are wider than
//! a byte (the 4-byte 2-pixel groups of YUY2/UYVY, 4-byte RGBx pixels, 16-bit formats),
//! offsets and strides are multiples of that width (up to 4): `videoconvert`'s YUY2/UYVY → I420
//! fast path crashes on a row that starts off a group even when every byte read is inside the
//! buffer.

pub(crate) mod buffer;

use std::fmt;

/// One plane as the buffer describes it, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlaneLayout {
    pub(crate) offset: usize,
    /// As the meta says it (negative strides are refused, not taken as bottom-up).
    pub(crate) stride: i64,
    /// Rows the mapping reads.
    pub(crate) rows: usize,
    /// Bytes one row of the frame's width takes.
    pub(crate) row_bytes: usize,
    /// What the offset and stride must be multiples of (1: anything).
    pub(crate) align: usize,
}

/// Why a buffer does not hold the frame it claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// No meta, and fewer bytes than one frame of the caps.
    ShortBuffer {
        size: usize,
        needed: usize,
    },
    /// The meta describes another format than the caps.
    FormatMismatch {
        meta: String,
        caps: String,
    },
    PlaneCount {
        meta: usize,
        caps: usize,
    },
    /// The meta's frame is smaller than the caps' (GStreamer refuses to map it).
    SmallerThanCaps {
        meta: (u32, u32),
        caps: (u32, u32),
    },
    /// A size the meta gives that GStreamer cannot describe (too large).
    Unusable {
        what: String,
    },
    StrideTooSmall {
        plane: usize,
        stride: i64,
        row_bytes: usize,
    },
    /// A packed plane whose rows do not start on a whole sample group.
    Misaligned {
        plane: usize,
        offset: usize,
        stride: i64,
        align: usize,
    },
    /// A plane's first byte is in no memory block.
    OffsetOutside {
        plane: usize,
        offset: usize,
        size: usize,
    },
    /// A plane runs past the end of the memory block its first byte is in.
    PlaneOutside {
        plane: usize,
        layout: PlaneLayout,
        block_end: usize,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::ShortBuffer { size, needed } => write!(
                f,
                "{size} bytes where the negotiated caps need {needed} per frame"
            ),
            Fault::FormatMismatch { meta, caps } => {
                write!(f, "its video meta says {meta} where the caps say {caps}")
            }
            Fault::PlaneCount { meta, caps } => {
                write!(
                    f,
                    "its video meta has {meta} planes where the caps' format has {caps}"
                )
            }
            Fault::SmallerThanCaps { meta, caps } => write!(
                f,
                "its video meta describes a {}x{} frame, smaller than the caps' {}x{}",
                meta.0, meta.1, caps.0, caps.1
            ),
            Fault::Unusable { what } => write!(f, "its video meta is unusable: {what}"),
            Fault::StrideTooSmall {
                plane,
                stride,
                row_bytes,
            } => write!(
                f,
                "plane {plane}'s stride {stride} is shorter than one row of {row_bytes} bytes"
            ),
            Fault::Misaligned {
                plane,
                offset,
                stride,
                align,
            } => write!(
                f,
                "plane {plane}'s offset {offset} or stride {stride} is not a multiple of its \
                 {align}-byte samples"
            ),
            Fault::OffsetOutside {
                plane,
                offset,
                size,
            } => write!(
                f,
                "plane {plane} starts at byte {offset}, outside the buffer's {size} bytes"
            ),
            Fault::PlaneOutside {
                plane,
                layout,
                block_end,
            } => write!(
                f,
                "plane {plane} (offset {} + stride {} x {} rows) runs past the end of its memory \
                 at byte {block_end}",
                layout.offset, layout.stride, layout.rows
            ),
        }
    }
}

/// Checks `planes` against memory blocks of `blocks` bytes, laid end to end as in the buffer.
pub(crate) fn check_planes(planes: &[PlaneLayout], blocks: &[usize]) -> Result<(), Fault> {
    let size = blocks.iter().fold(0usize, |a, b| a.saturating_add(*b));
    for (plane, layout) in planes.iter().enumerate() {
        let stride_ok = usize::try_from(layout.stride).is_ok_and(|s| s >= layout.row_bytes);
        if !stride_ok && layout.rows > 0 {
            return Err(Fault::StrideTooSmall {
                plane,
                stride: layout.stride,
                row_bytes: layout.row_bytes,
            });
        }
        let align = layout.align.max(1);
        if layout.offset % align != 0 || layout.stride.rem_euclid(align as i64) != 0 {
            return Err(Fault::Misaligned {
                plane,
                offset: layout.offset,
                stride: layout.stride,
                align,
            });
        }
        let Some((start, len)) = block_holding(blocks, layout.offset) else {
            return Err(Fault::OffsetOutside {
                plane,
                offset: layout.offset,
                size,
            });
        };
        let end = usize::try_from(layout.stride.max(0))
            .ok()
            .and_then(|stride| stride.checked_mul(layout.rows))
            .and_then(|bytes| bytes.checked_add(layout.offset));
        if end.is_none_or(|end| end > start + len) {
            return Err(Fault::PlaneOutside {
                plane,
                layout: *layout,
                block_end: start + len,
            });
        }
    }
    Ok(())
}

/// The block (start, length) holding byte `offset`, as `gst_buffer_find_memory` finds it.
fn block_holding(blocks: &[usize], offset: usize) -> Option<(usize, usize)> {
    let mut start = 0usize;
    for &len in blocks {
        if offset >= start && offset - start < len {
            return Some((start, len));
        }
        start = start.saturating_add(len);
    }
    None
}

/// Counts the buffers an element dropped, and says when to tell the application: at the first
/// and then at every power of two, so a producer that lies on every frame does not flood the bus.
#[derive(Debug, Default)]
pub(crate) struct DropCount(std::sync::atomic::AtomicU64);

impl DropCount {
    /// Counts one drop; the total when it is time to post a warning.
    pub(crate) fn note(&self) -> Option<u64> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        (n == 1 || n.is_power_of_two()).then_some(n)
    }

    pub(crate) fn reset(&self) {
        self.0.store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The warning an element posts for its `dropped`-th malformed buffer, dropped for `fault`.
pub(crate) fn drop_message(dropped: u64, fault: &Fault) -> String {
    format!(
        "dropped {dropped} malformed raw video buffer(s), the last because {fault}; fix the \
         producer or its caps"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(offset: usize, stride: i64, rows: usize, row_bytes: usize) -> PlaneLayout {
        PlaneLayout {
            offset,
            stride,
            rows,
            row_bytes,
            align: 1,
        }
    }

    #[test]
    fn planes_inside_their_memory_pass() {
        // I420 640x480 in one block, and split over three blocks, one per plane.
        let planes = [
            plane(0, 640, 480, 640),
            plane(307_200, 320, 240, 320),
            plane(384_000, 320, 240, 320),
        ];
        assert_eq!(check_planes(&planes, &[460_800]), Ok(()));
        assert_eq!(check_planes(&planes, &[307_200, 76_800, 76_800]), Ok(()));
    }

    #[test]
    fn each_lie_is_named() {
        let fault = check_planes(&[plane(0, 1280, 480, 1280)], &[1280 * 479]).unwrap_err();
        assert!(
            matches!(fault, Fault::PlaneOutside { plane: 0, .. }),
            "{fault}"
        );
        assert!(fault.to_string().contains("runs past the end"), "{fault}");
        let fault = check_planes(&[plane(0, 100, 10, 200)], &[1 << 20]).unwrap_err();
        assert!(matches!(fault, Fault::StrideTooSmall { stride: 100, .. }));
        let fault = check_planes(&[plane(0, -640, 2, 640)], &[1 << 20]).unwrap_err();
        assert!(matches!(fault, Fault::StrideTooSmall { stride: -640, .. }));
        let fault = check_planes(&[plane(5000, 10, 1, 10)], &[5000]).unwrap_err();
        assert_eq!(
            fault,
            Fault::OffsetOutside {
                plane: 0,
                offset: 5000,
                size: 5000
            }
        );
    }

    #[test]
    fn packed_rows_start_on_whole_samples() {
        // videoconvert's YUY2 -> I420 fast path crashes (SIGSEGV) on rows that start off a
        // 4-byte group: odd strides or offsets, or 2 bytes off at some widths.
        let yuy2 = |offset, stride| PlaneLayout {
            align: 4,
            ..plane(offset, stride, 2, 40)
        };
        assert!(check_planes(&[yuy2(44, 64)], &[1000]).is_ok());
        for (offset, stride) in [(0, 41), (1, 40), (46, 64), (44, 62)] {
            let fault = check_planes(&[yuy2(offset, stride)], &[1000]).unwrap_err();
            assert!(
                matches!(fault, Fault::Misaligned { align: 4, .. }),
                "{fault}"
            );
        }
    }

    #[test]
    fn a_plane_spanning_two_blocks_fails_as_the_mapping_would_read_past_the_first() {
        let planes = [plane(0, 100, 10, 100)];
        assert!(check_planes(&planes, &[500, 500]).is_err());
        assert!(check_planes(&planes, &[1000]).is_ok());
        // Empty blocks hold nothing: the offset falls in the next one.
        assert!(check_planes(&[plane(0, 10, 1, 10)], &[0, 10]).is_ok());
    }

    #[test]
    fn sizes_that_overflow_are_refused_not_wrapped() {
        let huge = plane(usize::MAX - 10, i64::MAX, usize::MAX, 1);
        assert!(check_planes(&[huge], &[usize::MAX]).is_err());
        let wrap = plane(16, i64::MAX, 4, 1);
        assert!(matches!(
            check_planes(&[wrap], &[64]),
            Err(Fault::PlaneOutside { .. })
        ));
    }

    #[test]
    fn drops_are_posted_at_the_first_and_powers_of_two() {
        let count = DropCount::default();
        let posted: Vec<u64> = (0..9).filter_map(|_| count.note()).collect();
        assert_eq!(posted, [1, 2, 4, 8]);
        count.reset();
        assert_eq!(count.note(), Some(1));
    }
}
