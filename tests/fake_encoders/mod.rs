// SPDX-License-Identifier: MPL-2.0
//! Test-only encoders, registered by the test binary and never by the plugin: "hardware" H.264
//! encoders that fail as real ones do when the GPU cannot serve them, so that `stromautoenc`'s
//! fallback is exercised without a GPU. They prove nothing about a GPU.
//!
//! - `stromtestfailopenh264enc` never opens (as `nvh264enc` without a CUDA device, or NVENC at
//!   its session limit: "OpenEncodeSessionEx failed: out of memory");
//! - `stromtestfailframeh264enc` opens and takes caps, then fails on its first frame (as an
//!   encoder whose session is lost when it first encodes);
//! - `stromtestfailafterh264enc` is a bin around `x264enc` (`rc-lookahead=0`) that encodes, then
//!   posts an error and returns an error flow on its `fail-after`-th frame (as a GPU encoder
//!   whose device goes away mid-stream); `bframes` reaches the `x264enc`; `threaded=true` puts a
//!   `queue` after it, so that its output comes from a thread of its own (as NVENC's does);
//!   `stop-delay` (ms) makes its PAUSED→READY take that long (a hung GPU encoder that will not
//!   stop);
//! - `stromtestglh264enc` takes GL memory only, as a GL-fed encoder does: a bin of
//!   `gldownload ! x264enc` behind a GL-memory-only sink pad.
#![allow(dead_code)]

use std::sync::Once;

use gst::glib;
use gst::prelude::*;

pub const FAIL_OPEN: &str = "stromtestfailopenh264enc";
pub const FAIL_FRAME: &str = "stromtestfailframeh264enc";
pub const GL_ENCODER: &str = "stromtestglh264enc";
pub const FAIL_AFTER: &str = "stromtestfailafterh264enc";
pub const GL_REFUSING: &str = "stromtestglrefuseh264enc";
/// What NVENC's session refusal looks like (nvcodec's text, with NVENC's status 10).
pub const SESSION_ERROR: &str =
    "Failed to open encode session: NvEncOpenEncodeSessionEx: NV_ENC_ERR_OUT_OF_MEMORY (10)";
pub const OPEN_ERROR: &str = "OpenEncodeSessionEx failed: out of memory";
pub const FRAME_ERROR: &str = "NvEncEncodePicture failed: the encode session was lost";

mod imp {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, LazyLock};

    use gst::glib;
    use gst::subclass::prelude::*;
    use gst_video::prelude::*;
    use gst_video::subclass::prelude::*;

    fn metadata(long_name: &str) -> gst::subclass::ElementMetadata {
        gst::subclass::ElementMetadata::new(
            long_name,
            "Codec/Encoder/Video/Hardware",
            "Test-only H.264 encoder that fails (gst-strom tests)",
            "gst-strom developers",
        )
    }

    fn templates() -> Vec<gst::PadTemplate> {
        let sink = gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::Nv12)
            .build();
        let src = gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .field("profile", "main")
            .build();
        vec![
            gst::PadTemplate::new(
                "sink",
                gst::PadDirection::Sink,
                gst::PadPresence::Always,
                &sink,
            )
            .unwrap(),
            gst::PadTemplate::new(
                "src",
                gst::PadDirection::Src,
                gst::PadPresence::Always,
                &src,
            )
            .unwrap(),
        ]
    }

    #[derive(Default)]
    pub struct FailOpen;

    #[glib::object_subclass]
    impl ObjectSubclass for FailOpen {
        const NAME: &'static str = "StromTestFailOpenH264Enc";
        type Type = super::FailOpen;
        type ParentType = gst_video::VideoEncoder;
    }

    impl ObjectImpl for FailOpen {}
    impl GstObjectImpl for FailOpen {}

    impl ElementImpl for FailOpen {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static METADATA: LazyLock<gst::subclass::ElementMetadata> =
                LazyLock::new(|| metadata("Test encoder that never opens"));
            Some(&*METADATA)
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(templates);
            TEMPLATES.as_ref()
        }
    }

    impl VideoEncoderImpl for FailOpen {
        fn open(&self) -> Result<(), gst::ErrorMessage> {
            Err(gst::error_msg!(
                gst::LibraryError::Init,
                ["{} (test-only encoder that never opens)", super::OPEN_ERROR]
            ))
        }
    }

    #[derive(Default)]
    pub struct GlEncoder;

    #[glib::object_subclass]
    impl ObjectSubclass for GlEncoder {
        const NAME: &'static str = "StromTestGlH264Enc";
        type Type = super::GlEncoder;
        type ParentType = gst::Bin;
    }

    impl ObjectImpl for GlEncoder {
        fn constructed(&self) {
            self.parent_constructed();
            let bin = self.obj();
            let only_gl = gst::ElementFactory::make("capsfilter")
                .property(
                    "caps",
                    gst::Caps::builder("video/x-raw")
                        .features(["memory:GLMemory"])
                        .build(),
                )
                .build()
                .unwrap();
            let download = gst::ElementFactory::make("gldownload").build().unwrap();
            let convert = gst::ElementFactory::make("videoconvert").build().unwrap();
            let encoder = gst::ElementFactory::make("x264enc")
                .property_from_str("tune", "zerolatency")
                .build()
                .unwrap();
            let children = [&only_gl, &download, &convert, &encoder];
            bin.add_many(children).unwrap();
            gst::Element::link_many(children).unwrap();
            let templates = bin.pad_template_list();
            let find = |name| {
                templates
                    .iter()
                    .find(|t| t.name_template() == name)
                    .unwrap()
            };
            let sink = gst::GhostPad::builder_from_template_with_target(
                find("sink"),
                &only_gl.static_pad("sink").unwrap(),
            )
            .unwrap()
            .build();
            let src = gst::GhostPad::builder_from_template_with_target(
                find("src"),
                &encoder.static_pad("src").unwrap(),
            )
            .unwrap()
            .build();
            bin.add_pad(&sink).unwrap();
            bin.add_pad(&src).unwrap();
        }
    }

    impl GstObjectImpl for GlEncoder {}
    impl BinImpl for GlEncoder {}

    impl ElementImpl for GlEncoder {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static METADATA: LazyLock<gst::subclass::ElementMetadata> =
                LazyLock::new(|| metadata("Test encoder that takes GL memory only"));
            Some(&*METADATA)
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
                let sink = gst::Caps::builder("video/x-raw")
                    .features(["memory:GLMemory"])
                    .build();
                let src = gst::Caps::builder("video/x-h264").build();
                vec![
                    gst::PadTemplate::new(
                        "sink",
                        gst::PadDirection::Sink,
                        gst::PadPresence::Always,
                        &sink,
                    )
                    .unwrap(),
                    gst::PadTemplate::new(
                        "src",
                        gst::PadDirection::Src,
                        gst::PadPresence::Always,
                        &src,
                    )
                    .unwrap(),
                ]
            });
            TEMPLATES.as_ref()
        }
    }

    pub struct FailAfter {
        encoder: gst::Element,
        queue: gst::Element,
        src: gst::GhostPad,
        fail_after: Arc<AtomicU32>,
        stop_delay_ms: AtomicU32,
        zero_latency: AtomicBool,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for FailAfter {
        const NAME: &'static str = "StromTestFailAfterH264Enc";
        type Type = super::FailAfter;
        type ParentType = gst::Bin;

        fn with_class(klass: &Self::Class) -> Self {
            let encoder = gst::ElementFactory::make("x264enc")
                .property("rc-lookahead", 0i32)
                .build()
                .unwrap();
            let queue = gst::ElementFactory::make("queue").build().unwrap();
            let src =
                gst::GhostPad::builder_from_template(&klass.pad_template("src").unwrap()).build();
            FailAfter {
                encoder,
                queue,
                src,
                fail_after: Arc::new(AtomicU32::new(0)),
                stop_delay_ms: AtomicU32::new(0),
                zero_latency: AtomicBool::new(false),
            }
        }
    }

    impl ObjectImpl for FailAfter {
        fn properties() -> &'static [glib::ParamSpec] {
            static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
                vec![
                    glib::ParamSpecUInt::builder("fail-after")
                        .blurb("Fail on this frame (0: never)")
                        .build(),
                    glib::ParamSpecUInt::builder("bframes")
                        .blurb("x264enc's bframes")
                        .maximum(16)
                        .build(),
                    glib::ParamSpecUInt::builder("stop-delay")
                        .blurb("How long PAUSED to READY takes, in ms")
                        .build(),
                    glib::ParamSpecBoolean::builder("threaded")
                        .blurb("Output from a thread of its own (a queue after x264enc)")
                        .build(),
                    glib::ParamSpecBoolean::builder("zero-latency")
                        .blurb("x264enc tune=zerolatency: it reports no latency of its own")
                        .build(),
                ]
            });
            PROPERTIES.as_ref()
        }

        fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
            match pspec.name() {
                "fail-after" => self
                    .fail_after
                    .store(value.get().unwrap(), Ordering::SeqCst),
                "bframes" => self
                    .encoder
                    .set_property("bframes", value.get::<u32>().unwrap()),
                "stop-delay" => self
                    .stop_delay_ms
                    .store(value.get().unwrap(), Ordering::SeqCst),
                "zero-latency" => {
                    let on = value.get().unwrap();
                    self.zero_latency.store(on, Ordering::SeqCst);
                    let tune = if on { "zerolatency" } else { "" };
                    self.encoder.set_property_from_str("tune", tune);
                }
                "threaded" => {
                    // A ghost pad's target must be unlinked: the queue goes in after it let go.
                    self.src.set_target(None::<&gst::Pad>).unwrap();
                    let out = if value.get().unwrap() {
                        self.encoder.link(&self.queue).unwrap();
                        &self.queue
                    } else {
                        self.encoder.unlink(&self.queue);
                        &self.encoder
                    };
                    self.src
                        .set_target(Some(&out.static_pad("src").unwrap()))
                        .unwrap();
                }
                _ => unreachable!(),
            }
        }

        fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
            match pspec.name() {
                "fail-after" => self.fail_after.load(Ordering::SeqCst).to_value(),
                "bframes" => self.encoder.property_value("bframes"),
                "stop-delay" => self.stop_delay_ms.load(Ordering::SeqCst).to_value(),
                "zero-latency" => self.zero_latency.load(Ordering::SeqCst).to_value(),
                "threaded" => self
                    .src
                    .target()
                    .is_some_and(|t| t.parent().as_ref() == Some(self.queue.upcast_ref()))
                    .to_value(),
                _ => unreachable!(),
            }
        }

        fn constructed(&self) {
            self.parent_constructed();
            let bin = self.obj();
            bin.add_many([&self.encoder, &self.queue]).unwrap();
            let sink_template = bin.pad_template("sink").unwrap();
            let sink = gst::GhostPad::builder_from_template_with_target(
                &sink_template,
                &self.encoder.static_pad("sink").unwrap(),
            )
            .unwrap()
            .build();
            self.src
                .set_target(Some(&self.encoder.static_pad("src").unwrap()))
                .unwrap();
            bin.add_pad(&sink).unwrap();
            bin.add_pad(&self.src).unwrap();
            let seen = AtomicU32::new(0);
            let fail_after = self.fail_after.clone();
            let this = bin.downgrade();
            self.encoder.static_pad("sink").unwrap().add_probe(
                gst::PadProbeType::BUFFER,
                move |_, info| {
                    let at = fail_after.load(Ordering::SeqCst);
                    if at == 0 || seen.fetch_add(1, Ordering::SeqCst) + 1 != at {
                        return gst::PadProbeReturn::Ok;
                    }
                    if let Some(bin) = this.upgrade() {
                        bin.post_error_message(gst::error_msg!(
                            gst::ResourceError::Failed,
                            ("simulated GPU loss")
                        ));
                    }
                    info.flow_res = Err(gst::FlowError::Error);
                    gst::PadProbeReturn::Handled
                },
            );
        }
    }

    impl GstObjectImpl for FailAfter {}
    impl BinImpl for FailAfter {}

    impl ElementImpl for FailAfter {
        fn change_state(
            &self,
            transition: gst::StateChange,
        ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
            let delay = self.stop_delay_ms.load(Ordering::SeqCst);
            if transition == gst::StateChange::PausedToReady && delay > 0 {
                std::thread::sleep(std::time::Duration::from_millis(u64::from(delay)));
            }
            self.parent_change_state(transition)
        }

        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
                metadata("Test encoder (x264enc inside) that fails after some frames")
            });
            Some(&*METADATA)
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
                let sink = gst_video::VideoCapsBuilder::new()
                    .format_list([gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12])
                    .build();
                let src = gst::Caps::builder("video/x-h264")
                    .field("stream-format", "byte-stream")
                    .field("alignment", "au")
                    .build();
                vec![
                    gst::PadTemplate::new(
                        "sink",
                        gst::PadDirection::Sink,
                        gst::PadPresence::Always,
                        &sink,
                    )
                    .unwrap(),
                    gst::PadTemplate::new(
                        "src",
                        gst::PadDirection::Src,
                        gst::PadPresence::Always,
                        &src,
                    )
                    .unwrap(),
                ]
            });
            TEMPLATES.as_ref()
        }
    }

    #[derive(Default)]
    pub struct FailFrame;

    #[glib::object_subclass]
    impl ObjectSubclass for FailFrame {
        const NAME: &'static str = "StromTestFailFrameH264Enc";
        type Type = super::FailFrame;
        type ParentType = gst_video::VideoEncoder;
    }

    impl ObjectImpl for FailFrame {}
    impl GstObjectImpl for FailFrame {}

    impl ElementImpl for FailFrame {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static METADATA: LazyLock<gst::subclass::ElementMetadata> =
                LazyLock::new(|| metadata("Test encoder that fails on its first frame"));
            Some(&*METADATA)
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(templates);
            TEMPLATES.as_ref()
        }
    }

    impl VideoEncoderImpl for FailFrame {
        fn set_format(
            &self,
            state: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
        ) -> Result<(), gst::LoggableError> {
            let caps = gst::Caps::builder("video/x-h264")
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .field("profile", "main")
                .build();
            self.obj()
                .set_output_state(caps, Some(state))
                .map_err(|_| gst::loggable_error!(gst::CAT_RUST, "output state"))?;
            Ok(())
        }

        fn handle_frame(
            &self,
            _frame: gst_video::VideoCodecFrame,
        ) -> Result<gst::FlowSuccess, gst::FlowError> {
            gst::element_imp_error!(
                self,
                gst::StreamError::Encode,
                [
                    "{} (test-only encoder that fails on its first frame)",
                    super::FRAME_ERROR
                ]
            );
            Err(gst::FlowError::Error)
        }
    }

    /// Takes GL memory or system memory in its template, like nvh264enc, but refuses GL memory
    /// (and the first session of the process) at the caps with NVENC's session error, as a
    /// consumer GPU past its session limit or an encoder whose GL interop fails; afterwards, on
    /// system memory, it encodes (x264enc inside).
    pub struct GlRefuse {
        encoder: gst::Element,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for GlRefuse {
        const NAME: &'static str = "StromTestGlRefuseH264Enc";
        type Type = super::GlRefuse;
        type ParentType = gst::Bin;

        fn with_class(_klass: &Self::Class) -> Self {
            let encoder = gst::ElementFactory::make("x264enc")
                .property_from_str("tune", "zerolatency")
                .build()
                .unwrap();
            GlRefuse { encoder }
        }
    }

    impl ObjectImpl for GlRefuse {
        fn constructed(&self) {
            self.parent_constructed();
            let bin = self.obj();
            let download = gst::ElementFactory::make("gldownload").build().unwrap();
            let convert = gst::ElementFactory::make("videoconvert").build().unwrap();
            let children = [&download, &convert, &self.encoder];
            bin.add_many(children).unwrap();
            gst::Element::link_many(children).unwrap();
            let templates = bin.pad_template_list();
            let find = |name| {
                templates
                    .iter()
                    .find(|t| t.name_template() == name)
                    .unwrap()
            };
            let sink = gst::GhostPad::builder_from_template_with_target(
                find("sink"),
                &download.static_pad("sink").unwrap(),
            )
            .unwrap()
            .event_function(|pad, parent, event| {
                // The first session of the process is refused too: a GPU at its session
                // limit (where the bin's converter took system memory from the start).
                static FIRST_REFUSED: AtomicBool = AtomicBool::new(false);
                let refused = match event.view() {
                    gst::EventView::Caps(c) => {
                        c.caps()
                            .features(0)
                            .is_some_and(|f| f.contains("memory:GLMemory"))
                            || !FIRST_REFUSED.swap(true, Ordering::SeqCst)
                    }
                    _ => false,
                };
                if refused {
                    if let Some(bin) = parent.and_then(|p| p.downcast_ref::<gst::Element>()) {
                        bin.post_error_message(gst::error_msg!(
                            gst::LibraryError::Init,
                            [
                                "{} (test-only encoder that refuses GL memory)",
                                super::SESSION_ERROR
                            ]
                        ));
                    }
                    return false;
                }
                gst::Pad::event_default(pad, parent, event)
            })
            .build();
            let src = gst::GhostPad::builder_from_template_with_target(
                find("src"),
                &self.encoder.static_pad("src").unwrap(),
            )
            .unwrap()
            .build();
            bin.add_pad(&sink).unwrap();
            bin.add_pad(&src).unwrap();
        }
    }

    impl GstObjectImpl for GlRefuse {}
    impl BinImpl for GlRefuse {}

    impl ElementImpl for GlRefuse {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static METADATA: LazyLock<gst::subclass::ElementMetadata> =
                LazyLock::new(|| metadata("Test encoder that refuses GL memory"));
            Some(&*METADATA)
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
                let gl = gst::Caps::builder("video/x-raw")
                    .features(["memory:GLMemory"])
                    .field("format", "NV12")
                    .build();
                let mut sink = gl;
                sink.merge(
                    gst::Caps::builder("video/x-raw")
                        .field("format", "NV12")
                        .build(),
                );
                let src = gst::Caps::builder("video/x-h264").build();
                vec![
                    gst::PadTemplate::new(
                        "sink",
                        gst::PadDirection::Sink,
                        gst::PadPresence::Always,
                        &sink,
                    )
                    .unwrap(),
                    gst::PadTemplate::new(
                        "src",
                        gst::PadDirection::Src,
                        gst::PadPresence::Always,
                        &src,
                    )
                    .unwrap(),
                ]
            });
            TEMPLATES.as_ref()
        }
    }
}

glib::wrapper! {
    pub struct FailOpen(ObjectSubclass<imp::FailOpen>) @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

glib::wrapper! {
    pub struct GlEncoder(ObjectSubclass<imp::GlEncoder>) @extends gst::Bin, gst::Element, gst::Object;
}

glib::wrapper! {
    pub struct FailAfter(ObjectSubclass<imp::FailAfter>) @extends gst::Bin, gst::Element, gst::Object;
}

glib::wrapper! {
    pub struct GlRefuse(ObjectSubclass<imp::GlRefuse>) @extends gst::Bin, gst::Element, gst::Object;
}

glib::wrapper! {
    pub struct FailFrame(ObjectSubclass<imp::FailFrame>) @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

/// Registers the test encoders for this process (GStreamer must be initialised).
pub fn register() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        gst::Element::register(None, FAIL_OPEN, gst::Rank::NONE, FailOpen::static_type())
            .expect("register the fail-open encoder");
        gst::Element::register(None, FAIL_FRAME, gst::Rank::NONE, FailFrame::static_type())
            .expect("register the fail-frame encoder");
        gst::Element::register(None, FAIL_AFTER, gst::Rank::NONE, FailAfter::static_type())
            .expect("register the fail-after encoder");
        gst::Element::register(None, GL_ENCODER, gst::Rank::NONE, GlEncoder::static_type())
            .expect("register the GL-memory encoder");
        gst::Element::register(None, GL_REFUSING, gst::Rank::NONE, GlRefuse::static_type())
            .expect("register the GL-refusing encoder");
    });
}
