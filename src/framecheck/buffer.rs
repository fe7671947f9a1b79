// SPDX-License-Identifier: MPL-2.0
//! Reads a `gst::Buffer` and the negotiated `VideoInfo` into the plain layout [`super`] checks:
//! the planes as `gst_video_frame_map` would map them (the meta's offsets, strides and frame
//! size; the caps' interlacing) and the sizes of the buffer's memory blocks.

use gst_video::{VideoFormat, VideoFormatInfo, VideoInfo, VideoInterlaceMode, VideoMeta};

use super::{Fault, PlaneLayout, check_planes};

/// Whether `buffer` holds the frame `info` (the caps) and its video meta, if any, describe.
pub(crate) fn check(buffer: &gst::BufferRef, info: &VideoInfo) -> Result<(), Fault> {
    if matches!(info.format(), VideoFormat::Encoded | VideoFormat::Unknown) {
        return Ok(());
    }
    let Some(meta) = buffer.meta::<VideoMeta>() else {
        // Mapped whole (all blocks merged), then read at the caps' offsets and strides.
        return match buffer.size() < info.size() {
            true => Err(Fault::ShortBuffer {
                size: buffer.size(),
                needed: info.size(),
            }),
            false => Ok(()),
        };
    };
    if meta.format() != info.format() {
        return Err(Fault::FormatMismatch {
            meta: meta.format().to_str().to_string(),
            caps: info.format().to_str().to_string(),
        });
    }
    if meta.n_planes() != info.n_planes() {
        return Err(Fault::PlaneCount {
            meta: meta.n_planes() as usize,
            caps: info.n_planes() as usize,
        });
    }
    if meta.width() < info.width() || meta.height() < info.height() {
        return Err(Fault::SmallerThanCaps {
            meta: (meta.width(), meta.height()),
            caps: (info.width(), info.height()),
        });
    }
    let planes = meta_planes(&meta, info.interlace_mode())?;
    let blocks: Vec<usize> = (0..buffer.n_memory())
        .map(|i| buffer.peek_memory(i).size())
        .collect();
    check_planes(&planes, &blocks)
}

/// `buffer` with a meta frame larger than the caps cut to the caps' size, its offsets and
/// strides kept: the top left part, which `videoconvert` converts (it maps the frame and
/// converts the caps' size of it). `glupload` would take the meta's size and scale the whole
/// frame into the caps' instead, so the GL paths are given the cut frame. Call after [`check`].
pub(crate) fn crop_to_caps(mut buffer: gst::Buffer, info: &VideoInfo) -> gst::Buffer {
    let Some(meta) = buffer.meta::<VideoMeta>() else {
        return buffer;
    };
    if (meta.width(), meta.height()) == (info.width(), info.height()) {
        return buffer;
    }
    let (flags, format) = (meta.video_frame_flags(), meta.format());
    let (offsets, strides) = (meta.offset().to_vec(), meta.stride().to_vec());
    let writable = buffer.make_mut();
    let removed = writable
        .meta_mut::<VideoMeta>()
        .is_some_and(|meta| meta.remove().is_ok());
    if removed {
        // Cannot fail: the format and plane count are those of the meta just removed.
        let _ = VideoMeta::add_full(
            writable,
            flags,
            format,
            info.width(),
            info.height(),
            &offsets,
            &strides,
        );
    }
    buffer
}

/// The planes of `meta`'s frame as the mapping reads them.
fn meta_planes(meta: &VideoMeta, interlace: VideoInterlaceMode) -> Result<Vec<PlaneLayout>, Fault> {
    let finfo = VideoFormatInfo::from_format(meta.format());
    // Tiled strides encode tile counts, not bytes: only the offsets are checked there.
    let tiled = finfo.is_tiled();
    let (width, height) = (meta.width(), meta.height());
    // The frame keeps the caps' interlacing: an alternate-mode buffer is one field.
    let rows_of = match interlace {
        VideoInterlaceMode::Alternate => height.div_ceil(2),
        _ => height,
    };
    let interlaced = interlace != VideoInterlaceMode::Progressive;
    meta.offset()
        .iter()
        .zip(meta.stride())
        .enumerate()
        .map(|(p, (&offset, &stride))| {
            if finfo.has_palette() && p == 1 {
                return Ok(palette(offset));
            }
            let comps: Vec<u8> = finfo
                .component(p as u32)
                .into_iter()
                .filter_map(|c| u8::try_from(c).ok())
                .collect();
            let align = sample_alignment(&finfo, &comps);
            let (rows, row_bytes) = match (tiled, comps.first()) {
                (false, Some(&first)) => {
                    let mut rows = finfo.scale_height(first, rows_of) as usize;
                    // As GStreamer sizes interlaced 4:2:0 (even chroma rows): its line
                    // mapping reads that extra row.
                    if interlaced && finfo.h_sub()[first as usize] > 0 {
                        rows = rows.next_multiple_of(2);
                    }
                    (rows, row_bytes(&finfo, &comps, width, p)?)
                }
                _ => (0, 0),
            };
            Ok(PlaneLayout {
                offset,
                stride: i64::from(stride),
                rows,
                row_bytes,
                align,
            })
        })
        .collect()
}

/// A palette: 256 entries of 4 bytes, whatever the meta's stride says.
fn palette(offset: usize) -> PlaneLayout {
    PlaneLayout {
        offset,
        stride: 1024,
        rows: 1,
        row_bytes: 1024,
        align: 1,
    }
}

/// The alignment rows of a plane need: the largest power of two (up to 4) dividing the widest
/// pixel stride of its components — 4 for YUY2/UYVY (a 2-pixel group) and RGBx, 2 for NV12's UV
/// and 16-bit formats, 1 for 8-bit planes and 24-bit RGB (whose rows GStreamer lets start
/// anywhere). `videoconvert`'s YUY2 → I420 fast path crashes on rows 2 bytes off a 4-byte
/// boundary at some widths (found by the fuzzer: 19x32, offset 46, stride 62).
fn sample_alignment(finfo: &VideoFormatInfo, comps: &[u8]) -> usize {
    comps
        .iter()
        .map(|&c| finfo.pixel_stride()[c as usize].max(1) as usize)
        .max()
        .map_or(1, |pstride| 1 << pstride.trailing_zeros().min(2))
}

/// Bytes one row of plane `plane` takes at `width`: the widest of its components, sample count
/// times pixel stride (whole 4:2:2 groups: UYVY at an odd width reads its last group whole).
/// Formats packed in groups of their own (v210) have no pixel stride: GStreamer's default
/// stride for the width is what their unpacking reads.
fn row_bytes(
    finfo: &VideoFormatInfo,
    comps: &[u8],
    width: u32,
    plane: usize,
) -> Result<usize, Fault> {
    let pstride = finfo.pixel_stride();
    if comps.iter().all(|&c| pstride[c as usize] > 0) {
        return Ok(comps
            .iter()
            .map(|&c| finfo.scale_width(c, width) as usize * pstride[c as usize] as usize)
            .max()
            .unwrap_or(0));
    }
    VideoInfo::builder(finfo.format(), width, 1)
        .build()
        .ok()
        .and_then(|info| usize::try_from(info.stride()[plane]).ok())
        .ok_or_else(|| Fault::Unusable {
            what: format!("no {} row is {width} pixels wide", finfo.name()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(format: VideoFormat, width: u32, height: u32) -> VideoInfo {
        VideoInfo::builder(format, width, height).build().unwrap()
    }

    /// A zeroed buffer of `size` bytes with a meta of `format` at `width`x`height`.
    fn with_meta(
        size: usize,
        format: VideoFormat,
        (width, height): (u32, u32),
        offsets: &[usize],
        strides: &[i32],
    ) -> gst::Buffer {
        let mut buffer = gst::Buffer::from_mut_slice(vec![0u8; size]);
        VideoMeta::add_full(
            buffer.get_mut().unwrap(),
            gst_video::VideoFrameFlags::empty(),
            format,
            width,
            height,
            offsets,
            strides,
        )
        .unwrap();
        buffer
    }

    #[test]
    fn honest_buffers_pass_with_and_without_a_meta() {
        gst::init().unwrap();
        for format in [
            VideoFormat::I420,
            VideoFormat::Nv12,
            VideoFormat::Uyvy,
            VideoFormat::Bgrx,
            VideoFormat::V210,
        ] {
            for (w, h) in [(640, 480), (1, 1), (5, 3)] {
                let info = info(format, w, h);
                let plain = gst::Buffer::with_size(info.size()).unwrap();
                assert_eq!(check(&plain, &info), Ok(()), "{format:?} {w}x{h}");
                let offsets: Vec<usize> = info.offset().to_vec();
                let strides: Vec<i32> = info.stride().to_vec();
                let meta = with_meta(info.size(), format, (w, h), &offsets, &strides);
                assert_eq!(check(&meta, &info), Ok(()), "{format:?} {w}x{h} meta");
            }
        }
    }

    #[test]
    fn the_issues_lies_are_caught() {
        gst::init().unwrap();
        let caps = info(VideoFormat::Uyvy, 640, 480);
        let short = gst::Buffer::with_size(caps.size() / 3).unwrap();
        assert!(matches!(
            check(&short, &caps),
            Err(Fault::ShortBuffer { .. })
        ));
        let wide = with_meta(
            caps.size(),
            VideoFormat::Uyvy,
            (640, 480),
            &[0],
            &[1280 * 4],
        );
        assert!(matches!(
            check(&wide, &caps),
            Err(Fault::PlaneOutside { .. })
        ));
        let late = with_meta(
            caps.size(),
            VideoFormat::Uyvy,
            (640, 480),
            &[caps.size() / 2],
            &[1280],
        );
        assert!(matches!(
            check(&late, &caps),
            Err(Fault::PlaneOutside { .. })
        ));
        let past = with_meta(
            caps.size(),
            VideoFormat::Uyvy,
            (640, 480),
            &[caps.size()],
            &[1280],
        );
        assert!(matches!(
            check(&past, &caps),
            Err(Fault::OffsetOutside { .. })
        ));
        let short_meta = with_meta(
            caps.size() / 3,
            VideoFormat::Uyvy,
            (640, 480),
            &[0],
            &[1280],
        );
        assert!(check(&short_meta, &caps).is_err());
        let odd = with_meta(
            2 * caps.size(),
            VideoFormat::Uyvy,
            (640, 480),
            &[1],
            &[1281],
        );
        assert!(matches!(
            check(&odd, &caps),
            Err(Fault::Misaligned { align: 4, .. })
        ));
        let narrow = with_meta(caps.size(), VideoFormat::Uyvy, (640, 480), &[0], &[1000]);
        assert!(matches!(
            check(&narrow, &caps),
            Err(Fault::StrideTooSmall { .. })
        ));
        let small = with_meta(caps.size(), VideoFormat::Uyvy, (320, 240), &[0], &[640]);
        assert!(matches!(
            check(&small, &caps),
            Err(Fault::SmallerThanCaps { .. })
        ));
    }

    #[test]
    fn a_larger_meta_frame_is_checked_at_its_own_size() {
        gst::init().unwrap();
        let caps = info(VideoFormat::Uyvy, 640, 480);
        let big = info(VideoFormat::Uyvy, 1920, 1080);
        let whole = with_meta(big.size(), VideoFormat::Uyvy, (1920, 1080), &[0], &[3840]);
        assert_eq!(check(&whole, &caps), Ok(()));
        // Enough for the caps' 480 rows but not the meta's 1080: the mapping makes 1080.
        let cut = with_meta(3840 * 480, VideoFormat::Uyvy, (1920, 1080), &[0], &[3840]);
        assert!(check(&cut, &caps).is_err());
    }

    #[test]
    fn a_larger_meta_frame_is_cut_to_the_caps_keeping_its_layout() {
        gst::init().unwrap();
        let caps = info(VideoFormat::Nv12, 64, 48);
        let big = info(VideoFormat::Nv12, 128, 96);
        let large = with_meta(
            big.size(),
            VideoFormat::Nv12,
            (128, 96),
            big.offset(),
            big.stride(),
        );
        let cut = crop_to_caps(large.clone(), &caps);
        let meta = cut.meta::<VideoMeta>().unwrap();
        assert_eq!((meta.width(), meta.height()), (64, 48));
        assert_eq!((meta.offset(), meta.stride()), (big.offset(), big.stride()));
        assert_eq!(check(&cut, &caps), Ok(()));
        // Untouched where the sizes agree.
        let same = with_meta(
            caps.size(),
            VideoFormat::Nv12,
            (64, 48),
            caps.offset(),
            caps.stride(),
        );
        assert_eq!(crop_to_caps(same.clone(), &caps).as_ptr(), same.as_ptr());
    }

    #[test]
    fn odd_packed_widths_need_whole_groups_and_interlaced_420_even_chroma_rows() {
        gst::init().unwrap();
        let caps = info(VideoFormat::Uyvy, 5, 2);
        let tight = with_meta(20, VideoFormat::Uyvy, (5, 2), &[0], &[10]);
        assert!(matches!(
            check(&tight, &caps),
            Err(Fault::StrideTooSmall { row_bytes: 12, .. })
        ));
        let interlaced = VideoInfo::builder(VideoFormat::I420, 4, 6)
            .interlace_mode(VideoInterlaceMode::Interleaved)
            .build()
            .unwrap();
        // Three chroma rows for 6 lines, but GStreamer reads (and sizes) four.
        let three = with_meta(
            24 + 6 + 6,
            VideoFormat::I420,
            (4, 6),
            &[0, 24, 30],
            &[4, 2, 2],
        );
        assert!(check(&three, &interlaced).is_err());
        let four = with_meta(
            24 + 8 + 8,
            VideoFormat::I420,
            (4, 6),
            &[0, 24, 32],
            &[4, 2, 2],
        );
        assert_eq!(check(&four, &interlaced), Ok(()));
    }
}
