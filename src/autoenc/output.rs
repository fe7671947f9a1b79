// SPDX-License-Identifier: MPL-2.0
//! What leaves the bin, so that a switch mid-stream is one stream to a muxer.
//!
//! - **Display order.** An encoder with B-frames outputs a P-frame before the B-frames shown
//!   before it. Were it to fail in between, downstream would have a frame whose predecessors
//!   never come, and the next encoder would start (with a keyframe) before it in display order:
//!   decoders then show frames out of order. So an output is held in the bin until every frame
//!   presented before it has been output too (see `Pending::closed_before`); a switch throws the
//!   held outputs away and the next encoder gets their frames. Without B-frames nothing is held.
//! - **Decoding times.** An encoder with B-frames starts its DTS before its first PTS, which after
//!   a switch can be before the last DTS sent: a DTS that would go backwards is moved to just
//!   after the last one (it stays at most its PTS, since display order is kept).
//! - **Caps.** The next encoder's parameter sets differ (`codec_data`, profile, level), and a
//!   file muxer refuses any caps change (`matroskamux`: "Caps changes are not supported by
//!   Matroska"). When the caps carry `codec_data` (`avc`, `hvc1`, AV1 for a container) and the
//!   new ones describe the same picture (size, rate, stream-format, alignment, ...), downstream
//!   keeps the first caps: the new parameter sets reach the decoder in-band with every keyframe
//!   (the parser's `config-interval=-1`). Byte-stream caps change as they are.

use gst::prelude::*;

/// The most outputs held back: more than any reorder depth (H.264 and H.265 keep at most 16
/// frames), so only an encoder that drops frames without saying so reaches it; display order
/// is then let go rather than the stream.
const MAX_WITHHELD: usize = 32;

/// Fields in which the caps of two encoders of the same picture differ without the picture
/// changing: the parameter sets, and what they say.
const PARAMETER_FIELDS: [&str; 7] = [
    "codec_data",
    "profile",
    "level",
    "tier",
    "colorimetry",
    "chroma-site",
    "streamheader",
];

/// The bin's output state for one stream.
#[derive(Default)]
pub(super) struct Output {
    /// Outputs of the encoder in use held back for display order, in decode order.
    withheld: Vec<gst::Buffer>,
    /// The newest running time among them.
    newest: Option<u64>,
    /// Running time of the last DTS sent downstream.
    pub(super) last_dts: Option<i64>,
}

impl Output {
    /// The newest running time among the held outputs and one with `pts`.
    pub(super) fn newest_with(&self, pts: Option<u64>) -> Option<u64> {
        self.newest.max(pts)
    }

    pub(super) fn hold(&mut self, buffer: gst::Buffer, pts: Option<u64>) {
        self.newest = self.newest_with(pts);
        self.withheld.push(buffer);
    }

    pub(super) fn full(&self) -> bool {
        self.withheld.len() >= MAX_WITHHELD
    }

    pub(super) fn take(&mut self) -> Vec<gst::Buffer> {
        self.newest = None;
        std::mem::take(&mut self.withheld)
    }

    /// The encoder failed (or the stream flushed): what it held back is not sent.
    pub(super) fn discard(&mut self) -> usize {
        self.take().len()
    }

    /// A flush: decoding times start again.
    pub(super) fn restart(&mut self) {
        self.discard();
        self.last_dts = None;
    }
}

/// The running time a DTS at `dts` must be moved to so that DTS never goes backwards after
/// `last`; None when it need not move (or cannot without passing its PTS).
pub(super) fn monotonic_dts(last: Option<i64>, dts: i64, pts: Option<i64>) -> Option<i64> {
    let last = last?;
    let moved = last.checked_add(1)?;
    (dts < last && pts.is_none_or(|pts| moved <= pts)).then_some(moved)
}

/// Whether caps `new` describe the same stream as `old` but for its parameter sets: downstream
/// can keep `old`.
pub(super) fn same_picture(old: &gst::CapsRef, new: &gst::CapsRef) -> bool {
    let (Some(old), Some(new)) = (old.structure(0), new.structure(0)) else {
        return false;
    };
    let strip = |s: &gst::StructureRef| {
        let mut s = s.to_owned();
        s.remove_fields(PARAMETER_FIELDS);
        s
    };
    // Without codec_data (byte-stream) a caps change costs nothing and tells the truth.
    old.has_field("codec_data") && old.name() == new.name() && strip(old) == strip(new)
}

/// Signed running time of `time` in the segment `pad` last saw.
pub(super) fn signed_running_time(pad: &gst::Pad, time: Option<gst::ClockTime>) -> Option<i64> {
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = event.segment().downcast_ref::<gst::ClockTime>()?;
    match segment.to_running_time_full(time?)? {
        gst::Signed::Positive(t) => i64::try_from(t.nseconds()).ok(),
        gst::Signed::Negative(t) => i64::try_from(t.nseconds()).ok().map(|t| -t),
    }
}

/// The running time of `pts` in the segment `pad` last saw.
pub(super) fn running_time(pad: &impl IsA<gst::Pad>, pts: Option<gst::ClockTime>) -> Option<u64> {
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = event.segment().downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time(pts?).map(gst::ClockTime::nseconds)
}

/// For a buffer leaving `pad` after a DTS at running time `last`: the last DTS to remember
/// after it, and the position its DTS must be moved to when it would go backwards.
pub(super) fn dts_position(
    pad: &gst::Pad,
    buffer: &gst::Buffer,
    last: Option<i64>,
) -> (Option<i64>, Option<gst::ClockTime>) {
    let Some(dts) = signed_running_time(pad, buffer.dts()) else {
        return (last, None);
    };
    let pts = signed_running_time(pad, buffer.pts());
    let moved = monotonic_dts(last, dts, pts);
    let new_last = Some(moved.unwrap_or(dts).max(last.unwrap_or(i64::MIN)));
    let position = moved.and_then(|moved| {
        let event = pad.sticky_event::<gst::event::Segment>(0)?;
        let segment = event.segment().downcast_ref::<gst::ClockTime>()?;
        // A running time before the segment's start has no unsigned position to give.
        let running = u64::try_from(moved).ok()?;
        match segment.position_from_running_time_full(gst::ClockTime::from_nseconds(running))? {
            gst::Signed::Positive(position) => Some(position),
            gst::Signed::Negative(_) => None,
        }
    });
    (new_last, position)
}

/// The position in segment `to` of the time `time` of segment `from` (the same running time);
/// None when there is none to give (no time, or a running time before `to` starts).
pub(super) fn retime(
    from: &gst::FormattedSegment<gst::ClockTime>,
    to: &gst::FormattedSegment<gst::ClockTime>,
    time: Option<gst::ClockTime>,
) -> Option<gst::ClockTime> {
    let running = match from.to_running_time_full(time?)? {
        gst::Signed::Positive(t) => t,
        gst::Signed::Negative(_) => return None,
    };
    match to.position_from_running_time_full(running)? {
        gst::Signed::Positive(position) => Some(position),
        gst::Signed::Negative(_) => None,
    }
}

/// What to do with an encoder's output buffer.
pub(super) enum Verdict {
    /// Send it on, after these held ones.
    Pass(Vec<gst::Buffer>),
    Hold,
    /// From a chain already replaced: its frames are owed again, the output goes nowhere.
    Drop,
}

/// Sends held outputs on, ahead of the buffer or event now leaving `pad`.
pub(super) fn send_on(pad: &gst::Pad, buffers: Vec<gst::Buffer>) -> Result<(), gst::FlowError> {
    if buffers.is_empty() {
        return Ok(());
    }
    let Some(peer) = pad.peer() else {
        return Err(gst::FlowError::NotLinked);
    };
    for buffer in buffers {
        peer.chain(buffer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dts_never_goes_backwards_nor_past_its_pts() {
        assert_eq!(monotonic_dts(None, -5, Some(0)), None);
        assert_eq!(monotonic_dts(Some(100), 200, Some(200)), None);
        assert_eq!(monotonic_dts(Some(100), 100, Some(300)), None);
        // The next encoder starts its DTS two frames before its PTS.
        assert_eq!(monotonic_dts(Some(100), 33, Some(133)), Some(101));
        assert_eq!(monotonic_dts(Some(100), 66, None), Some(101));
        // Moving it past its PTS would be worse than a step back.
        assert_eq!(monotonic_dts(Some(100), 50, Some(100)), None);
    }

    #[test]
    fn times_keep_their_running_time_in_the_segment_downstream_keeps() {
        gst::init().unwrap();
        let s = gst::ClockTime::from_seconds;
        let mut shifted = gst::FormattedSegment::<gst::ClockTime>::new();
        shifted.set_start(s(3_600_000));
        let plain = gst::FormattedSegment::<gst::ClockTime>::new();
        // x264enc's segment (1000 h later) to a plain one and back.
        assert_eq!(retime(&shifted, &plain, Some(s(3_600_002))), Some(s(2)));
        assert_eq!(retime(&plain, &shifted, Some(s(2))), Some(s(3_600_002)));
        // Before the start of the segment: no position.
        assert_eq!(retime(&shifted, &plain, Some(s(3_599_999))), None);
        assert_eq!(retime(&plain, &plain, None), None);
    }

    #[test]
    fn caps_of_the_same_picture_differ_only_in_parameter_sets() {
        gst::init().unwrap();
        let caps = |s: &str| s.parse::<gst::Caps>().unwrap();
        let old = caps(
            "video/x-h264,stream-format=avc,alignment=au,width=320,height=240,\
             framerate=30/1,profile=high,level=(string)2.1,codec_data=(buffer)0164",
        );
        let new = caps(
            "video/x-h264,stream-format=avc,alignment=au,width=320,height=240,\
             framerate=30/1,profile=constrained-baseline,level=(string)1.3,\
             codec_data=(buffer)0142",
        );
        assert!(same_picture(&old, &new));
        // Byte-stream: nothing to keep.
        let plain = caps("video/x-h264,stream-format=byte-stream,width=320,profile=high");
        let plain_new = caps("video/x-h264,stream-format=byte-stream,width=320,profile=main");
        assert!(!same_picture(&plain, &plain_new));
        let bigger = caps(
            "video/x-h264,stream-format=avc,alignment=au,width=640,height=480,\
             framerate=30/1,profile=high,level=(string)2.1,codec_data=(buffer)0164",
        );
        assert!(!same_picture(&old, &bigger));
        let other_format = caps(
            "video/x-h264,stream-format=byte-stream,alignment=au,width=320,height=240,\
             framerate=30/1",
        );
        assert!(!same_picture(&old, &other_format));
        assert!(!same_picture(
            &old,
            &caps("video/x-h265,width=320,height=240,framerate=30/1")
        ));
    }
}
