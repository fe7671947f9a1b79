// SPDX-License-Identifier: MPL-2.0
//! Test-only encoders, registered by the test binary and never by the plugin: "hardware" H.264
//! encoders that fail as real ones do when the GPU cannot serve them, so that `stromautoenc`'s
//! fallback is exercised without a GPU. They prove nothing about a GPU.
//!
//! - `stromtestfailopenh264enc` never opens (as `nvh264enc` without a CUDA device, or NVENC at
//!   its session limit: "OpenEncodeSessionEx failed: out of memory");
//! - `stromtestfailframeh264enc` opens and takes caps, then fails on its first frame (as an
//!   encoder whose session is lost when it first encodes).
#![allow(dead_code)]

use std::sync::Once;

use gst::glib;
use gst::prelude::*;

pub const FAIL_OPEN: &str = "stromtestfailopenh264enc";
pub const FAIL_FRAME: &str = "stromtestfailframeh264enc";
pub const OPEN_ERROR: &str = "OpenEncodeSessionEx failed: out of memory";
pub const FRAME_ERROR: &str = "NvEncEncodePicture failed: the encode session was lost";

mod imp {
    use std::sync::LazyLock;

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
}

glib::wrapper! {
    pub struct FailOpen(ObjectSubclass<imp::FailOpen>) @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

glib::wrapper! {
    pub struct FailFrame(ObjectSubclass<imp::FailFrame>) @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

/// Registers both encoders for this process (GStreamer must be initialised).
pub fn register() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        gst::Element::register(None, FAIL_OPEN, gst::Rank::NONE, FailOpen::static_type())
            .expect("register the fail-open encoder");
        gst::Element::register(None, FAIL_FRAME, gst::Rank::NONE, FailFrame::static_type())
            .expect("register the fail-frame encoder");
    });
}
