// SPDX-License-Identifier: MPL-2.0
//! What is measured: the conversion cases and the converters that compete on them.

/// Raw video caps on one side of a converter.
#[derive(Debug, Clone, Copy)]
pub struct Video {
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
}

impl Video {
    pub const fn new(format: &'static str, width: u32, height: u32) -> Video {
        Video {
            format,
            width,
            height,
        }
    }

    /// Caps for the source side (with a frame rate, which `imagefreeze` needs).
    pub fn source_caps(&self) -> String {
        format!(
            "video/x-raw,format={},width={},height={},framerate=30/1",
            self.format, self.width, self.height
        )
    }

    /// Caps the consumer demands (system memory).
    pub fn sink_caps(&self) -> String {
        format!(
            "video/x-raw,format={},width={},height={}",
            self.format, self.width, self.height
        )
    }
}

/// One conversion to measure.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub id: &'static str,
    pub label: &'static str,
    pub input: Video,
    pub output: Video,
    /// Frames per full run: short runs (about half a second for the slowest converter on 2 cores),
    /// so that many interleaved repetitions spread load from elsewhere over all contenders.
    pub frames: u32,
}

impl Case {
    pub fn scales(&self) -> bool {
        (self.input.width, self.input.height) != (self.output.width, self.output.height)
    }
}

const HD: (u32, u32) = (1920, 1080);
const UHD: (u32, u32) = (3840, 2160);

pub const CASES: [Case; 7] = [
    Case {
        id: "1080p-i420-nv12",
        label: "1080p I420→NV12",
        input: Video::new("I420", HD.0, HD.1),
        output: Video::new("NV12", HD.0, HD.1),
        frames: 400,
    },
    Case {
        id: "2160p-i420-nv12",
        label: "2160p I420→NV12",
        input: Video::new("I420", UHD.0, UHD.1),
        output: Video::new("NV12", UHD.0, UHD.1),
        frames: 100,
    },
    Case {
        id: "1080p-nv12-nv12",
        label: "1080p NV12→NV12 (passthrough)",
        input: Video::new("NV12", HD.0, HD.1),
        output: Video::new("NV12", HD.0, HD.1),
        frames: 100_000,
    },
    Case {
        id: "2160p-nv12-nv12",
        label: "2160p NV12→NV12 (passthrough)",
        input: Video::new("NV12", UHD.0, UHD.1),
        output: Video::new("NV12", UHD.0, UHD.1),
        frames: 100_000,
    },
    Case {
        id: "1080p-bgrx-nv12",
        label: "1080p BGRx→NV12",
        input: Video::new("BGRx", HD.0, HD.1),
        output: Video::new("NV12", HD.0, HD.1),
        frames: 150,
    },
    Case {
        id: "2160p-bgrx-nv12",
        label: "2160p BGRx→NV12",
        input: Video::new("BGRx", UHD.0, UHD.1),
        output: Video::new("NV12", UHD.0, UHD.1),
        frames: 40,
    },
    Case {
        id: "2160p-1080p-i420",
        label: "I420 2160p→1080p (scaling)",
        input: Video::new("I420", UHD.0, UHD.1),
        output: Video::new("I420", HD.0, HD.1),
        frames: 100,
    },
];

/// A converter as it appears in a pipeline description.
#[derive(Debug, Clone)]
pub struct Contender {
    pub id: String,
    /// The gst-launch fragment.
    pub launch: String,
    /// Only measured on cases that scale (a reference, not a contender for the targets).
    pub scaling_reference: bool,
}

/// The contenders, in the order they are interleaved and printed.
pub fn contenders(cores: usize) -> Vec<Contender> {
    let plain = |launch: String| Contender {
        id: launch.clone(),
        launch,
        scaling_reference: false,
    };
    vec![
        plain("stromautoconvert".into()),
        plain("videoconvert".into()),
        plain(format!("videoconvert n-threads={cores}")),
        plain("autovideoconvert".into()),
        Contender {
            id: format!("videoconvertscale n-threads={cores}"),
            launch: format!("videoconvertscale n-threads={cores}"),
            scaling_reference: true,
        },
    ]
}

pub const STROM: &str = "stromautoconvert";
pub const STOCK: &str = "videoconvert";
