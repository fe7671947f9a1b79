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
use gst::subclass::prelude::*;

use super::imp::{AutoEnc, CAT, running_time};
use super::report::Announcement;

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
    last_dts: Option<i64>,
}

impl Output {
    /// The newest running time among the held outputs and one with `pts`.
    fn newest_with(&self, pts: Option<u64>) -> Option<u64> {
        self.newest.max(pts)
    }

    fn hold(&mut self, buffer: gst::Buffer, pts: Option<u64>) {
        self.newest = self.newest_with(pts);
        self.withheld.push(buffer);
    }

    fn full(&self) -> bool {
        self.withheld.len() >= MAX_WITHHELD
    }

    fn take(&mut self) -> Vec<gst::Buffer> {
        self.newest = None;
        std::mem::take(&mut self.withheld)
    }

    /// The encoder failed (or the stream flushed): what it held back is not sent.
    pub(super) fn discard(&mut self) -> usize {
        self.take().len()
    }

    /// A flush: decoding times start again.
    fn restart(&mut self) {
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
fn signed_running_time(pad: &gst::Pad, time: Option<gst::ClockTime>) -> Option<i64> {
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = event.segment().downcast_ref::<gst::ClockTime>()?;
    match segment.to_running_time_full(time?)? {
        gst::Signed::Positive(t) => i64::try_from(t.nseconds()).ok(),
        gst::Signed::Negative(t) => i64::try_from(t.nseconds()).ok().map(|t| -t),
    }
}

/// What to do with an encoder's output buffer.
enum Verdict {
    /// Send it on, after these held ones.
    Pass(Vec<gst::Buffer>),
    Hold,
    /// From a chain already replaced: its frames are owed again, the output goes nowhere.
    Drop,
}

impl AutoEnc {
    /// Watches what comes out of `encoder` (each buffer marks its frame output, the first one
    /// announces the choice; outputs are held back for display order) and of `parser` (caps
    /// kept across a switch, DTS kept monotonic).
    pub(super) fn watch_output(
        &self,
        encoder: &gst::Element,
        parser: &gst::Element,
        generation: u64,
    ) {
        if let Some(pad) = encoder.static_pad("src") {
            let bin = self.obj().downgrade();
            pad.add_probe(
                gst::PadProbeType::BUFFER
                    | gst::PadProbeType::BUFFER_LIST
                    | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |pad, info| match bin.upgrade() {
                    Some(bin) => bin.imp().on_encoder_output(generation, pad, info),
                    None => gst::PadProbeReturn::Ok,
                },
            );
        }
        if let Some(pad) = parser.static_pad("src") {
            let bin = self.obj().downgrade();
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |pad, info| match bin.upgrade() {
                    Some(bin) => bin.imp().on_parser_output(pad, info),
                    None => gst::PadProbeReturn::Ok,
                },
            );
        }
    }

    fn on_encoder_output(
        &self,
        generation: u64,
        pad: &gst::Pad,
        info: &mut gst::PadProbeInfo,
    ) -> gst::PadProbeReturn {
        let verdict = match &info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => self.on_encoded(generation, pad, buffer),
            Some(gst::PadProbeData::BufferList(list)) => {
                // Rare (no encoder of the table pushes lists): every buffer counted, none held.
                let mut verdict = Verdict::Pass(Vec::new());
                for buffer in list.iter_owned() {
                    verdict = match self.on_encoded(generation, pad, &buffer) {
                        Verdict::Drop => Verdict::Drop,
                        _ => Verdict::Pass(self.release_withheld(generation).unwrap_or_default()),
                    };
                }
                verdict
            }
            Some(gst::PadProbeData::Event(event)) => self.on_encoder_event(generation, event),
            _ => Verdict::Pass(Vec::new()),
        };
        match verdict {
            Verdict::Pass(earlier) => match send_on(pad, earlier) {
                Ok(()) => gst::PadProbeReturn::Ok,
                Err(flow) => {
                    info.data = None;
                    info.flow_res = Err(flow);
                    gst::PadProbeReturn::Handled
                }
            },
            Verdict::Hold | Verdict::Drop => gst::PadProbeReturn::Drop,
        }
    }

    /// A serialized event after held outputs (EOS after the drain, a new segment or caps): the
    /// held outputs go first, in their order. A flush throws them away.
    fn on_encoder_event(&self, generation: u64, event: &gst::Event) -> Verdict {
        match event.view() {
            gst::EventView::FlushStop(_) => {
                self.state().output.restart();
                Verdict::Pass(Vec::new())
            }
            _ if event.is_serialized() => {
                Verdict::Pass(self.release_withheld(generation).unwrap_or_default())
            }
            _ => Verdict::Pass(Vec::new()),
        }
    }

    /// The held outputs of the chain of `generation`, their frames done; None for another chain.
    fn release_withheld(&self, generation: u64) -> Option<Vec<gst::Buffer>> {
        let mut state = self.state();
        state
            .active
            .as_ref()
            .filter(|a| a.generation == generation)?;
        let earlier = state.output.take();
        if !earlier.is_empty() {
            state.pending.release();
            state.output_started = true;
        }
        Some(earlier)
    }

    /// Counts an encoded buffer, marks its frame output, and says whether it goes on now.
    fn on_encoded(&self, generation: u64, pad: &gst::Pad, buffer: &gst::Buffer) -> Verdict {
        let pts = running_time(pad, buffer.pts());
        let dts = running_time(pad, buffer.dts());
        let settings = self.settings();
        let (verdict, announcement) = {
            let mut state = self.state();
            let Some(active) = state.active.as_mut().filter(|a| a.generation == generation) else {
                gst::debug!(CAT, imp = self, "output of a replaced encoder dropped");
                return Verdict::Drop;
            };
            active.encoded += 1;
            active.quiet.output();
            let first = !active.announced;
            active.announced = true;
            state.pending.output(pts);
            let dropped = state.pending.drop_older_than(dts);
            if dropped > 0 {
                gst::debug!(
                    CAT,
                    imp = self,
                    "{dropped} frames the encoder dropped let go"
                );
            }
            let newest = state.output.newest_with(pts);
            let verdict = if state.pending.closed_before(newest) || state.output.full() {
                let earlier = state.output.take();
                state.pending.release();
                state.output_started = true;
                Verdict::Pass(earlier)
            } else {
                state.output.hold(buffer.clone(), pts);
                Verdict::Hold
            };
            let announcement = first.then(|| Announcement::of(&settings, &state)).flatten();
            (verdict, announcement)
        };
        if let Some(announcement) = announcement {
            self.announce(announcement);
        }
        verdict
    }

    fn on_parser_output(
        &self,
        pad: &gst::Pad,
        info: &mut gst::PadProbeInfo,
    ) -> gst::PadProbeReturn {
        match &mut info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => {
                self.keep_dts_monotonic(pad, buffer);
                gst::PadProbeReturn::Ok
            }
            Some(gst::PadProbeData::Event(event)) => match event.view() {
                gst::EventView::Caps(c) => self.keep_caps(c.caps()),
                gst::EventView::FlushStop(_) => {
                    self.state().output.last_dts = None;
                    gst::PadProbeReturn::Ok
                }
                _ => gst::PadProbeReturn::Ok,
            },
            _ => gst::PadProbeReturn::Ok,
        }
    }

    /// New caps once output has started (a new encoder's, or its parameter sets updated):
    /// dropped when downstream's caps describe the same picture (see the module's text).
    fn keep_caps(&self, new: &gst::CapsRef) -> gst::PadProbeReturn {
        let Some(old) = self.srcpad.current_caps() else {
            return gst::PadProbeReturn::Ok;
        };
        // Before any output the caps sent are nobody's yet: the real ones replace them.
        if !self.state().output_started {
            return gst::PadProbeReturn::Ok;
        }
        if old.as_ref() == new || !same_picture(&old, new) {
            return gst::PadProbeReturn::Ok;
        }
        gst::info!(
            CAT,
            imp = self,
            "downstream keeps the caps {old}; the new encoder's parameter sets go in-band ({new})"
        );
        gst::PadProbeReturn::Drop
    }

    fn keep_dts_monotonic(&self, pad: &gst::Pad, buffer: &mut gst::Buffer) {
        let Some(dts) = signed_running_time(pad, buffer.dts()) else {
            return;
        };
        let pts = signed_running_time(pad, buffer.pts());
        let moved = {
            let mut state = self.state();
            let moved = monotonic_dts(state.output.last_dts, dts, pts);
            state.output.last_dts = Some(
                moved
                    .unwrap_or(dts)
                    .max(state.output.last_dts.unwrap_or(i64::MIN)),
            );
            moved
        };
        let Some(moved) = moved else {
            return;
        };
        let Some(event) = pad.sticky_event::<gst::event::Segment>(0) else {
            return;
        };
        let Some(segment) = event.segment().downcast_ref::<gst::ClockTime>() else {
            return;
        };
        // A running time before the segment's start has no unsigned position to give.
        let Ok(running) = u64::try_from(moved) else {
            return;
        };
        if let Some(gst::Signed::Positive(position)) =
            segment.position_from_running_time_full(gst::ClockTime::from_nseconds(running))
        {
            gst::debug!(
                CAT,
                imp = self,
                "DTS {:?} would go backwards: {position}",
                buffer.dts()
            );
            buffer.make_mut().set_dts(position);
        }
    }
}

/// Sends held outputs on, ahead of the buffer or event now leaving `pad`.
fn send_on(pad: &gst::Pad, buffers: Vec<gst::Buffer>) -> Result<(), gst::FlowError> {
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
